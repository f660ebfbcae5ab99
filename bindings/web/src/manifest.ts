/** The fields of a bundle's manifest.json that the web runtime needs, read and checked. */
import { MoebiusEdgeError } from "./errors.js";

export const GRAPH_NAMES = ["encode", "step", "decode"] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

export interface GraphEntry {
  file: string;
  sha256?: string;
}

export interface BundleInfo {
  formatVersion: number;
  backend: string;
  precision: string;
  model: string;
  imageSize: number;
  latentSize: number;
  latentChannels: number;
  steps: number;
  strength: number;
  guidanceScale: number;
  /** x0 = startSignal · clean_latents + startNoise · noise when strength < 1 (x0 = noise otherwise). */
  startSignal: number;
  startNoise: number;
  graphs: Record<GraphName, GraphEntry>;
}

const FORMAT = "moebius-edge/bundle";
const NEWEST_FORMAT_VERSION = 1;
const WEB_BACKENDS = ["onnxruntime", "onnx"];

function bad(message: string): MoebiusEdgeError {
  return new MoebiusEdgeError("BAD_MANIFEST", `manifest.json: ${message}`);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseManifest(text: string): BundleInfo {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    throw bad(`not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(root)) throw bad("top level is not an object");
  if (root.format !== FORMAT) throw bad(`not a Moebius Edge bundle manifest (format '${FORMAT}' expected)`);
  const formatVersion = root.format_version;
  if (typeof formatVersion !== "number" || !Number.isInteger(formatVersion)) throw bad("missing integer 'format_version'");
  if (formatVersion < 1 || formatVersion > NEWEST_FORMAT_VERSION) {
    throw new MoebiusEdgeError(
      "UNSUPPORTED",
      `bundle format version ${formatVersion} is not supported (this runtime reads up to ${NEWEST_FORMAT_VERSION})`,
    );
  }
  const backend = root.backend;
  if (typeof backend !== "string") throw bad("missing 'backend'");
  if (!WEB_BACKENDS.includes(backend)) {
    throw new MoebiusEdgeError("UNSUPPORTED", `this bundle is for the '${backend}' backend; the web runtime runs ONNX bundles`);
  }
  // A hand-edited manifest could carry it: decoding tiles as if they were the whole latent gives wrong pictures.
  if (root.decode_tiling !== undefined && root.decode_tiling !== null) {
    throw new MoebiusEdgeError(
      "UNSUPPORTED",
      "tiled decode bundles are not supported by the web runtime; export without --decode-tile",
    );
  }
  const precision = root.precision;
  if (typeof precision !== "string") throw bad("missing 'precision'");
  const graphsJson = root.graphs;
  if (!isObject(graphsJson)) throw bad("missing 'graphs'");
  const graphs = {} as Record<GraphName, GraphEntry>;
  for (const name of GRAPH_NAMES) {
    const entry = graphsJson[name];
    if (!isObject(entry) || typeof entry.file !== "string" || entry.file === "") throw bad(`no file for the ${name} graph`);
    if (entry.file.includes("..") || entry.file.startsWith("/") || entry.file.includes("://")) {
      throw bad(`the ${name} graph's file name '${entry.file}' leaves the bundle folder`);
    }
    graphs[name] = { file: entry.file, sha256: typeof entry.sha256 === "string" ? entry.sha256 : undefined };
  }
  const imageSize = root.image_size;
  if (typeof imageSize !== "number" || !Number.isInteger(imageSize) || imageSize <= 0 || imageSize % 8 !== 0) {
    throw bad("missing or invalid 'image_size'");
  }
  const timesteps = root.timesteps;
  if (!Array.isArray(timesteps) || timesteps.length === 0) throw bad("missing 'timesteps'");
  const strength = typeof root.strength === "number" ? root.strength : 1.0;
  let startSignal = 0;
  let startNoise = 1;
  if (strength < 1) {
    const schedule = root.schedule;
    if (!isObject(schedule) || typeof schedule.start_signal !== "number" || typeof schedule.start_noise !== "number") {
      throw bad("strength < 1 needs schedule.start_signal and schedule.start_noise");
    }
    startSignal = schedule.start_signal;
    startNoise = schedule.start_noise;
  }
  return {
    formatVersion,
    backend,
    precision,
    model: typeof root.model === "string" ? root.model : "",
    imageSize,
    latentSize: typeof root.latent_size === "number" ? root.latent_size : imageSize / 8,
    latentChannels: typeof root.latent_channels === "number" ? root.latent_channels : 4,
    steps: timesteps.length,
    strength,
    guidanceScale: typeof root.guidance_scale === "number" ? root.guidance_scale : 0,
    startSignal,
    startNoise,
    graphs,
  };
}
