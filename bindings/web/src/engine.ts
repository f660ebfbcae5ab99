/**
 * The Moebius inpainting loop in the browser over onnxruntime-web: encode → step × n → decode → paste back.
 *
 *   const engine = await MoebiusEdge.open("bundles/tiny-int8-onnx");
 *   const { image, timings } = await engine.inpaint(imageData, maskBytes, { seed: 0 });
 *
 * The step graph holds classifier-free guidance and the DDIM update, so the host loop is only the calls below.
 */
import * as ort from "onnxruntime-web/webgpu";

import { MoebiusEdgeError } from "./errors.js";
import { BundleInfo, GRAPH_NAMES, GraphName, parseManifest } from "./manifest.js";
import { pasteHole } from "./pasteBack.js";
import { seededNormalNoise } from "./seededNoise.js";

export type ExecutionProviderChoice = "auto" | "wasm" | "webgpu";

export interface OpenOptions {
  /** "auto" (default) uses WebGPU when the browser has an adapter, else WASM. */
  executionProvider?: ExecutionProviderChoice;
  /** Check each graph's SHA-256 against the manifest (default true; needs a secure context for crypto.subtle). */
  verifyChecksums?: boolean;
  /** Where onnxruntime-web's .wasm files are served, if not beside its .mjs. */
  wasmPaths?: string;
  /** WASM threads (default: what onnxruntime-web picks; threads need a cross-origin-isolated page). */
  numThreads?: number;
  fetch?: typeof fetch;
}

export interface InpaintOptions {
  /** Standard-normal noise [1,C,L,L]; default: seeded noise from `seed` (the C++ runtime's generator). */
  noise?: Float32Array;
  seed?: number;
  /** Called after every step with its index, the step count and its milliseconds. */
  onStep?: (index: number, steps: number, milliseconds: number) => void;
}

export interface OpenTimings {
  fetchMs: number;
  verifyMs: number;
  /** ONNX Runtime session creation (graph optimisation; the first one also compiles the WASM module). */
  createMs: Record<string, number>;
}

export interface Timings {
  openMs: number;
  encodeMs: number;
  stepMs: number[];
  denoiseMs: number;
  decodeMs: number;
  pasteMs: number;
  totalMs: number;
}

export interface EncodeResult {
  maskedLatents: Float32Array;
  maskLatent: Float32Array;
  cleanLatents?: Float32Array;
}

const HOLE_THRESHOLD = 128; // Python: a mask pixel is a hole when >= 127.5

const now = (): number => performance.now();

async function sha256Hex(bytes: ArrayBuffer): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

function joinUrl(base: string, file: string): string {
  return base.endsWith("/") ? base + file : `${base}/${file}`;
}

export class MoebiusEdge {
  readonly info: BundleInfo;
  /** The execution provider the sessions run on ("webgpu" or "wasm"). */
  readonly executionProvider: "wasm" | "webgpu";
  /** False when the page had no crypto.subtle (not a secure context) and the digests were not checked. */
  readonly checksumsVerified: boolean;
  readonly openTimings: OpenTimings;
  private readonly sessions: Record<GraphName, ort.InferenceSession>;
  private lastTimings: Timings;

  private constructor(
    info: BundleInfo,
    sessions: Record<GraphName, ort.InferenceSession>,
    executionProvider: "wasm" | "webgpu",
    checksumsVerified: boolean,
    openMs: number,
    openTimings: OpenTimings,
  ) {
    this.openTimings = openTimings;
    this.info = info;
    this.sessions = sessions;
    this.executionProvider = executionProvider;
    this.checksumsVerified = checksumsVerified;
    this.lastTimings = { openMs, encodeMs: 0, stepMs: [], denoiseMs: 0, decodeMs: 0, pasteMs: 0, totalMs: 0 };
  }

  /** Loads a bundle folder served at `bundleUrl` (manifest.json + the three .onnx graphs). */
  static async open(bundleUrl: string, options: OpenOptions = {}): Promise<MoebiusEdge> {
    const start = now();
    const fetchFn = options.fetch ?? fetch.bind(globalThis);
    const get = async (file: string): Promise<Response> => {
      let response: Response;
      try {
        response = await fetchFn(joinUrl(bundleUrl, file));
      } catch (error) {
        throw new MoebiusEdgeError("NOT_FOUND", `cannot fetch ${joinUrl(bundleUrl, file)}: ${(error as Error).message}`);
      }
      if (!response.ok) throw new MoebiusEdgeError("NOT_FOUND", `${joinUrl(bundleUrl, file)}: HTTP ${response.status}`);
      return response;
    };
    const info = parseManifest(await (await get("manifest.json")).text());

    if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
    if (options.numThreads) ort.env.wasm.numThreads = options.numThreads;
    const choice = options.executionProvider ?? "auto";
    const executionProvider = choice === "webgpu" || (choice === "auto" && (await hasWebGpu())) ? "webgpu" : "wasm";
    // WebGPU runs what it supports and leaves the rest (e.g. int8 Q/DQ) to the WASM CPU provider.
    const providers = executionProvider === "webgpu" ? ["webgpu", "wasm"] : ["wasm"];

    let checksumsVerified = options.verifyChecksums !== false;
    const sessions = {} as Record<GraphName, ort.InferenceSession>;
    const openTimings: OpenTimings = { fetchMs: 0, verifyMs: 0, createMs: {} };
    for (const name of GRAPH_NAMES) {
      const entry = info.graphs[name];
      let phase = now();
      const bytes = await (await get(entry.file)).arrayBuffer();
      openTimings.fetchMs += now() - phase;
      phase = now();
      if (options.verifyChecksums !== false && entry.sha256) {
        const digest = await sha256Hex(bytes);
        if (digest === undefined) {
          checksumsVerified = false;
        } else if (digest !== entry.sha256) {
          throw new MoebiusEdgeError(
            "CORRUPT_BUNDLE",
            `${entry.file} is damaged or was replaced: its SHA-256 is ${digest.slice(0, 12)}…, the manifest says ${entry.sha256.slice(0, 12)}…`,
          );
        }
      }
      openTimings.verifyMs += now() - phase;
      phase = now();
      try {
        sessions[name] = await ort.InferenceSession.create(new Uint8Array(bytes), {
          executionProviders: providers,
          graphOptimizationLevel: "all",
        });
      } catch (error) {
        throw new MoebiusEdgeError("CORRUPT_BUNDLE", `${name} graph ${entry.file} did not load: ${(error as Error).message}`);
      }
      openTimings.createMs[name] = now() - phase;
    }
    const expected: Record<GraphName, [number, number[]]> = {
      encode: [2, info.strength < 1 ? [3] : [2]],
      step: [4, [1]],
      decode: [1, [1]],
    };
    for (const name of GRAPH_NAMES) {
      const [inputs, outputs] = expected[name];
      const session = sessions[name];
      if (session.inputNames.length !== inputs || !outputs.includes(session.outputNames.length)) {
        throw new MoebiusEdgeError(
          "UNSUPPORTED",
          `${name} graph takes ${session.inputNames.length} inputs and gives ${session.outputNames.length} outputs; this runtime expects ${inputs} and ${outputs[0]}`,
        );
      }
    }
    return new MoebiusEdge(info, sessions, executionProvider, checksumsVerified, now() - start, openTimings);
  }

  get timings(): Timings {
    return this.lastTimings;
  }

  private imageDims(channels: number): number[] {
    return [1, channels, this.info.imageSize, this.info.imageSize];
  }

  private latentDims(channels: number): number[] {
    return [1, channels, this.info.latentSize, this.info.latentSize];
  }

  private async run(name: GraphName, inputs: ort.Tensor[]): Promise<Float32Array[]> {
    const session = this.sessions[name];
    const feeds: Record<string, ort.Tensor> = {};
    session.inputNames.forEach((inputName, k) => (feeds[inputName] = inputs[k]));
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(feeds);
    } catch (error) {
      throw new MoebiusEdgeError("RUNTIME", `${name} graph failed: ${(error as Error).message}`);
    }
    return session.outputNames.map((outputName) => {
      const tensor = results[outputName] as ort.Tensor;
      if (tensor.type !== "float32") throw new MoebiusEdgeError("UNSUPPORTED", `${name} output ${outputName} is ${tensor.type}, not float32`);
      return tensor.data as Float32Array;
    });
  }

  private checkLength(what: string, array: ArrayLike<number>, length: number): void {
    if (array.length !== length) {
      throw new MoebiusEdgeError("INVALID_ARGUMENT", `${what} has ${array.length} values, the model needs ${length}`);
    }
  }

  /** image [1,3,S,S] in [−1,1], mask [1,1,S,S] in {0,1} → the latents the step graph conditions on. */
  async encode(image: Float32Array, mask: Float32Array): Promise<EncodeResult> {
    const side = this.info.imageSize;
    this.checkLength("image", image, 3 * side * side);
    this.checkLength("mask", mask, side * side);
    const [maskedLatents, maskLatent, cleanLatents] = await this.run("encode", [
      new ort.Tensor("float32", image, this.imageDims(3)),
      new ort.Tensor("float32", mask, this.imageDims(1)),
    ]);
    return { maskedLatents, maskLatent, cleanLatents };
  }

  /** One CFG + DDIM step: x at retained step `index` → the next x. */
  async step(x: Float32Array, maskedLatents: Float32Array, maskLatent: Float32Array, index: number): Promise<Float32Array> {
    const latent = this.info.latentChannels * this.info.latentSize ** 2;
    this.checkLength("x", x, latent);
    this.checkLength("masked_latents", maskedLatents, latent);
    this.checkLength("mask_latent", maskLatent, this.info.latentSize ** 2);
    if (!Number.isInteger(index) || index < 0 || index >= this.info.steps) {
      throw new MoebiusEdgeError("INVALID_ARGUMENT", `step index ${index} is outside [0, ${this.info.steps})`);
    }
    const [next] = await this.run("step", [
      new ort.Tensor("float32", x, this.latentDims(this.info.latentChannels)),
      new ort.Tensor("float32", maskedLatents, this.latentDims(this.info.latentChannels)),
      new ort.Tensor("float32", maskLatent, this.latentDims(1)),
      new ort.Tensor("int64", BigInt64Array.from([BigInt(index)]), [1]),
    ]);
    return next;
  }

  /** x [1,C,L,L] → image [1,3,S,S] in [0,1]. */
  async decode(x: Float32Array): Promise<Float32Array> {
    this.checkLength("x", x, this.info.latentChannels * this.info.latentSize ** 2);
    const [image] = await this.run("decode", [new ort.Tensor("float32", x, this.latentDims(this.info.latentChannels))]);
    return image;
  }

  /**
   * Fills the hole of an image at the model's size. `mask`: one byte per pixel (≥ 128 = fill), or an ImageData
   * whose red channel marks the hole (white on black). Alpha of `image` is ignored. Returns a new ImageData.
   */
  async inpaint(image: ImageData, mask: ImageData | Uint8Array | Uint8ClampedArray, options: InpaintOptions = {}): Promise<{ image: ImageData; timings: Timings }> {
    const start = now();
    const side = this.info.imageSize;
    if (image.width !== side || image.height !== side) {
      throw new MoebiusEdgeError(
        "IMAGE_SIZE",
        `image is ${image.width}x${image.height}, this bundle runs at ${side}x${side}: crop or resize to the model's size first`,
      );
    }
    const pixels = side * side;
    const hole = new Uint8Array(pixels);
    let anyHole = false;
    if (mask instanceof ImageData) {
      if (mask.width !== side || mask.height !== side) throw new MoebiusEdgeError("INVALID_ARGUMENT", "mask and image sizes differ");
      for (let p = 0; p < pixels; p++) anyHole = (hole[p] = mask.data[4 * p] >= HOLE_THRESHOLD ? 1 : 0) === 1 || anyHole;
    } else {
      this.checkLength("mask", mask, pixels);
      for (let p = 0; p < pixels; p++) anyHole = (hole[p] = mask[p] >= HOLE_THRESHOLD ? 1 : 0) === 1 || anyHole;
    }
    const latentCount = this.info.latentChannels * this.info.latentSize ** 2;
    if (options.noise) this.checkLength("noise", options.noise, latentCount);
    const timings: Timings = { openMs: this.lastTimings.openMs, encodeMs: 0, stepMs: [], denoiseMs: 0, decodeMs: 0, pasteMs: 0, totalMs: 0 };
    if (!anyHole) {
      const copy = new ImageData(new Uint8ClampedArray(image.data), side, side);
      for (let p = 0; p < pixels; p++) copy.data[4 * p + 3] = 255;
      timings.totalMs = now() - start;
      this.lastTimings = timings;
      return { image: copy, timings };
    }

    // Pixels to tensors in Python's float32 operation order: (u / 255) · 2 − 1.
    let phase = now();
    const imageTensor = new Float32Array(3 * pixels);
    const maskTensor = new Float32Array(pixels);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) imageTensor[c * pixels + p] = Math.fround(Math.fround(image.data[4 * p + c] / 255) * 2) - 1;
      maskTensor[p] = hole[p];
    }
    let pasteMs = now() - phase;

    phase = now();
    const { maskedLatents, maskLatent, cleanLatents } = await this.encode(imageTensor, maskTensor);
    timings.encodeMs = now() - phase;

    let x = options.noise ? new Float32Array(options.noise) : seededNormalNoise(options.seed ?? 0, latentCount);
    if (this.info.strength < 1) {
      if (!cleanLatents) throw new MoebiusEdgeError("UNSUPPORTED", "strength < 1 but the encode graph gave no clean latents");
      for (let k = 0; k < latentCount; k++) x[k] = this.info.startSignal * cleanLatents[k] + this.info.startNoise * x[k];
    }
    phase = now();
    for (let i = 0; i < this.info.steps; i++) {
      const stepStart = now();
      x = await this.step(x, maskedLatents, maskLatent, i);
      const ms = now() - stepStart;
      timings.stepMs.push(ms);
      options.onStep?.(i, this.info.steps, ms);
    }
    timings.denoiseMs = now() - phase;

    phase = now();
    const decoded = await this.decode(x);
    timings.decodeMs = now() - phase;

    // [0,1] to bytes by truncation (as tensor_to_image does), then paste back through the blurred hole.
    phase = now();
    const generated = new Uint8ClampedArray(pixels * 4);
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) {
        generated[4 * p + c] = Math.trunc(Math.fround(Math.min(Math.max(decoded[c * pixels + p], 0), 1) * 255));
      }
      generated[4 * p + 3] = 255;
    }
    const out = new ImageData(pasteHole(image.data, generated, hole, side, side), side, side);
    pasteMs += now() - phase;
    timings.pasteMs = pasteMs;
    timings.totalMs = now() - start;
    this.lastTimings = timings;
    return { image: out, timings };
  }

  async release(): Promise<void> {
    for (const name of GRAPH_NAMES) await this.sessions[name].release();
  }
}
