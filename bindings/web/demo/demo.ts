// The demo page: load a bundle, pick an image, paint a mask, inpaint, watch per-step times.
import { MoebiusEdge } from "../src/index.js";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const photo = $<HTMLCanvasElement>("photo");
const maskCanvas = $<HTMLCanvasElement>("mask");
const result = $<HTMLCanvasElement>("result");
const status = $<HTMLSpanElement>("status");
const stepsLog = $<HTMLPreElement>("steps");
const runButton = $<HTMLButtonElement>("run");

let engine: MoebiusEdge | undefined;
let side = 512;
let picture: ImageBitmap | undefined;

// Canvases read back often (getImageData); tell the browser so it keeps them in CPU memory.
const context2d = (canvas: HTMLCanvasElement): CanvasRenderingContext2D => canvas.getContext("2d", { willReadFrequently: true })!;

function setStatus(text: string): void {
  status.textContent = text;
}

// The picture fills the model's square ("cover"): scaled to the shorter side and centre-cropped.
function drawPicture(): void {
  if (!picture) return;
  const scale = side / Math.min(picture.width, picture.height);
  const w = picture.width * scale;
  const h = picture.height * scale;
  context2d(photo).drawImage(picture, (side - w) / 2, (side - h) / 2, w, h);
}

function resize(size: number): void {
  if (size === side && photo.width === size) return;
  side = size;
  for (const canvas of [photo, maskCanvas, result]) {
    canvas.width = size; // clears the canvas
    canvas.height = size;
  }
  drawPicture();
}

function updateRunButton(): void {
  runButton.disabled = !(engine && picture);
}

async function loadBundle(): Promise<void> {
  const url = $<HTMLInputElement>("bundle").value;
  setStatus("loading…");
  try {
    await engine?.release();
    engine = await MoebiusEdge.open(url, { executionProvider: $<HTMLSelectElement>("ep").value as "auto" | "wasm" | "webgpu" });
    const info = engine.info;
    resize(info.imageSize);
    $("info").textContent = `${info.model} ${info.precision}, ${info.steps} steps, ${info.imageSize}², ${engine.executionProvider}, opened in ${engine.timings.openMs.toFixed(0)} ms`;
    setStatus(picture ? "paint the mask, then Inpaint" : "pick an image");
  } catch (error) {
    engine = undefined;
    setStatus(`error: ${(error as Error).message}`);
  }
  updateRunButton();
}

async function pickImage(file: File): Promise<void> {
  picture = await createImageBitmap(file);
  context2d(photo).clearRect(0, 0, side, side);
  drawPicture();
  context2d(maskCanvas).clearRect(0, 0, side, side);
  setStatus(engine ? "paint the mask, then Inpaint" : "load a bundle");
  updateRunButton();
}

function paintAt(event: PointerEvent): void {
  const rect = maskCanvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * side;
  const y = ((event.clientY - rect.top) / rect.height) * side;
  const context = context2d(maskCanvas);
  context.fillStyle = "rgb(255, 0, 0)";
  context.beginPath();
  context.arc(x, y, Number($<HTMLInputElement>("brush").value) / 2, 0, 2 * Math.PI);
  context.fill();
}

async function inpaint(): Promise<void> {
  if (!engine) return;
  runButton.disabled = true;
  stepsLog.textContent = "";
  setStatus("running…");
  const image = context2d(photo).getImageData(0, 0, side, side);
  const painted = context2d(maskCanvas).getImageData(0, 0, side, side).data;
  const mask = new Uint8Array(side * side);
  for (let p = 0; p < mask.length; p++) mask[p] = painted[4 * p + 3] >= 128 ? 255 : 0; // painted = opaque
  try {
    const { image: filled, timings } = await engine.inpaint(image, mask, {
      seed: Number($<HTMLInputElement>("seed").value),
      onStep: (i, n, ms) => {
        stepsLog.textContent += `step ${String(i + 1).padStart(2)}/${n}  ${ms.toFixed(1)} ms\n`;
      },
    });
    context2d(result).putImageData(filled, 0, 0);
    stepsLog.textContent +=
      `encode ${timings.encodeMs.toFixed(1)} ms\ndecode ${timings.decodeMs.toFixed(1)} ms\n` +
      `paste  ${timings.pasteMs.toFixed(1)} ms\ntotal  ${timings.totalMs.toFixed(1)} ms\n`;
    setStatus("done");
  } catch (error) {
    setStatus(`error: ${(error as Error).message}`);
  }
  updateRunButton();
}

let painting = false;
maskCanvas.addEventListener("pointerdown", (event) => {
  painting = true;
  maskCanvas.setPointerCapture(event.pointerId);
  paintAt(event);
});
maskCanvas.addEventListener("pointermove", (event) => painting && paintAt(event));
maskCanvas.addEventListener("pointerup", () => (painting = false));
$("clear").addEventListener("click", () => context2d(maskCanvas).clearRect(0, 0, side, side));
$("load").addEventListener("click", () => void loadBundle());
$<HTMLInputElement>("file").addEventListener("change", (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (file) void pickImage(file);
});
runButton.addEventListener("click", () => void inpaint());

for (const canvas of [photo, maskCanvas, result]) canvas.width = canvas.height = side;
const bundleParam = new URLSearchParams(location.search).get("bundle");
if (bundleParam) {
  $<HTMLInputElement>("bundle").value = bundleParam;
  void loadBundle();
}
