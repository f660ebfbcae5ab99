/**
 * Replays a bundle's conformance vectors (conformance/vectors.json, written by `moebius-edge conformance`):
 * encode, one step, decode and a whole inpaint with Python's noise, compared with Python's outputs.
 * The report holds the largest differences; the caller (the tests) judges them.
 */
import { MoebiusEdge } from "./engine.js";
import { MoebiusEdgeError } from "./errors.js";
import { pasteHole } from "./pasteBack.js";

interface VectorEntry {
  file: string;
  shape: number[];
  dtype: "float32" | "int64" | "uint8";
}

export interface FloatComparison {
  maxAbsError: number;
  meanAbsError: number;
  maxAbsExpected: number;
  count: number;
}

export interface ConformanceReport {
  precision: string;
  executionProvider: string;
  comparisons: Record<string, FloatComparison>;
  inpaint: { maxAbsDifference: number; valuesDiffering: number; meanAbsDifference: number; count: number };
  /** The paste-back alone on Python's decoded square (exact arithmetic: should not differ at all). */
  paste?: { maxAbsDifference: number; valuesDiffering: number };
  timings: { openMs: number; encodeMs: number; stepMeanMs: number; decodeMs: number; totalMs: number; steps: number };
}

type Typed = Float32Array | BigInt64Array | Uint8Array;

function compare(actual: Float32Array, expected: Float32Array): FloatComparison {
  let maxAbsError = 0;
  let total = 0;
  let maxAbsExpected = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= maxAbsError)) maxAbsError = error; // NaN wins, so a NaN output never passes
    total += error;
    maxAbsExpected = Math.max(maxAbsExpected, Math.abs(expected[i]));
  }
  if (actual.length !== expected.length) maxAbsError = Number.POSITIVE_INFINITY;
  return { maxAbsError, meanAbsError: total / expected.length, maxAbsExpected, count: expected.length };
}

async function loadVectors(folderUrl: string): Promise<Record<string, Typed>> {
  const response = await fetch(`${folderUrl}/vectors.json`);
  if (!response.ok) throw new MoebiusEdgeError("NOT_FOUND", `no conformance vectors at ${folderUrl} (HTTP ${response.status})`);
  const index = (await response.json()) as { tensors: Record<string, VectorEntry> };
  const vectors: Record<string, Typed> = {};
  await Promise.all(
    Object.entries(index.tensors).map(async ([name, entry]) => {
      const bytes = await (await fetch(`${folderUrl}/${entry.file}`)).arrayBuffer();
      const count = entry.shape.reduce((a, b) => a * b, 1);
      // Files are little-endian, as every browser platform is.
      const array =
        entry.dtype === "float32" ? new Float32Array(bytes) : entry.dtype === "int64" ? new BigInt64Array(bytes) : new Uint8Array(bytes);
      if (array.length !== count) throw new MoebiusEdgeError("BAD_MANIFEST", `vector ${name} has the wrong size for its shape`);
      vectors[name] = array;
    }),
  );
  return vectors;
}

export async function runConformance(bundleUrl: string, engine?: MoebiusEdge): Promise<ConformanceReport> {
  const vectors = await loadVectors(`${bundleUrl.replace(/\/$/, "")}/conformance`);
  const f = (name: string): Float32Array => {
    const v = vectors[name];
    if (!(v instanceof Float32Array)) throw new MoebiusEdgeError("BAD_MANIFEST", `vectors.json lacks float32 '${name}'`);
    return v;
  };
  const moebius = engine ?? (await MoebiusEdge.open(bundleUrl));
  const comparisons: Record<string, FloatComparison> = {};

  const encoded = await moebius.encode(f("encode.image"), f("encode.mask"));
  comparisons["encode.masked_latents"] = compare(encoded.maskedLatents, f("encode.masked_latents"));
  comparisons["encode.mask_latent"] = compare(encoded.maskLatent, f("encode.mask_latent"));
  if (vectors["encode.clean_latents"] && encoded.cleanLatents) {
    comparisons["encode.clean_latents"] = compare(encoded.cleanLatents, f("encode.clean_latents"));
  }

  const index = Number((vectors["step.index"] as BigInt64Array)[0]);
  const next = await moebius.step(f("step.x"), f("step.masked_latents"), f("step.mask_latent"), index);
  comparisons["step.next_x"] = compare(next, f("step.next_x"));

  comparisons["decode.image"] = compare(await moebius.decode(f("decode.x")), f("decode.image"));

  const side = moebius.info.imageSize;
  const rgba = vectors["inpaint.image"] as Uint8Array;
  const { image, timings } = await moebius.inpaint(new ImageData(new Uint8ClampedArray(rgba), side, side), vectors["inpaint.mask"] as Uint8Array, {
    noise: f("inpaint.noise"),
  });
  const expected = vectors["inpaint.output"] as Uint8Array;
  let maxAbsDifference = 0;
  let valuesDiffering = 0;
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(image.data[i] - expected[i]);
    maxAbsDifference = Math.max(maxAbsDifference, d);
    valuesDiffering += d !== 0 ? 1 : 0;
    total += d;
  }
  let paste: ConformanceReport["paste"];
  if (vectors["paste.generated"]) {
    const pasted = pasteHole(rgba, vectors["paste.generated"] as Uint8Array, (vectors["inpaint.mask"] as Uint8Array).map((v) => (v >= 128 ? 1 : 0)), side, side);
    paste = { maxAbsDifference: 0, valuesDiffering: 0 };
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(pasted[i] - expected[i]);
      paste.maxAbsDifference = Math.max(paste.maxAbsDifference, d);
      paste.valuesDiffering += d !== 0 ? 1 : 0;
    }
  }
  const stepMeanMs = timings.stepMs.reduce((a, b) => a + b, 0) / Math.max(timings.stepMs.length, 1);
  return {
    precision: moebius.info.precision,
    executionProvider: moebius.executionProvider,
    comparisons,
    inpaint: { maxAbsDifference, valuesDiffering, meanAbsDifference: total / expected.length, count: expected.length },
    paste,
    timings: {
      openMs: timings.openMs,
      encodeMs: timings.encodeMs,
      stepMeanMs,
      decodeMs: timings.decodeMs,
      totalMs: timings.totalMs,
      steps: timings.stepMs.length,
    },
  };
}
