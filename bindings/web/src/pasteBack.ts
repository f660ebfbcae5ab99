/**
 * Paste-back as edge_sdk.inpainting.paste_hole does it: blend the generated square into the original with the
 * hole mask blurred by PIL's GaussianBlur(3). The blur is PIL's extended box blur reproduced bit for bit
 * (three fixed-point box passes per axis, 8-bit rounding after each pass, edges replicated).
 */
const f32 = Math.fround;
const BOX_PASSES = 3;
const PASTE_BLUR_RADIUS = 3;

/** PIL's box radius for a Gaussian `radius` made of `passes` boxes, in PIL's float32/double mix. */
function boxRadiusForGaussian(radius: number, passes: number): number {
  const sigma2 = f32(f32(radius * radius) / passes);
  const boxLength = f32(Math.sqrt(12.0 * sigma2 + 1.0));
  const whole = f32(Math.floor((boxLength - 1.0) / 2.0));
  let fraction = f32(f32(2 * whole + 1) * f32(f32(whole * f32(whole + 1)) - f32(3 * sigma2)));
  fraction = f32(fraction / f32(6 * f32(sigma2 - f32(f32(whole + 1) * f32(whole + 1)))));
  return f32(whole + fraction);
}

function boxPass(
  data: Uint8Array,
  offset: number,
  count: number,
  stride: number,
  wholeRadius: number,
  inner: number,
  outer: number,
  scratch: Uint8Array,
): void {
  const at = (i: number): number => data[offset + Math.min(Math.max(i, 0), count - 1) * stride];
  let window = 0;
  for (let k = -wholeRadius; k <= wholeRadius; k++) window += at(k);
  for (let x = 0; x < count; x++) {
    const sum = window * inner + (at(x - wholeRadius - 1) + at(x + wholeRadius + 1)) * outer;
    scratch[x] = Math.floor((sum + 8388608) / 16777216); // (sum + 2^23) >> 24, exact in doubles
    window += at(x + wholeRadius + 1) - at(x - wholeRadius);
  }
  for (let x = 0; x < count; x++) data[offset + x * stride] = scratch[x];
}

/** PIL's ImageFilter.GaussianBlur(radius) on one 8-bit channel. */
export function gaussianBlurLikePil(channel: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const image = new Uint8Array(channel);
  const box = boxRadiusForGaussian(radius, BOX_PASSES);
  if (box === 0) return image;
  const whole = Math.trunc(box);
  const inner = Math.trunc(f32(16777216 / f32(box * 2 + 1)));
  const outer = Math.floor((16777216 - (whole * 2 + 1) * inner) / 2);
  const scratch = new Uint8Array(Math.max(width, height));
  for (let pass = 0; pass < BOX_PASSES; pass++) {
    for (let y = 0; y < height; y++) boxPass(image, y * width, width, 1, whole, inner, outer, scratch);
  }
  for (let pass = 0; pass < BOX_PASSES; pass++) {
    for (let x = 0; x < width; x++) boxPass(image, x, height, width, whole, inner, outer, scratch);
  }
  return image;
}

/**
 * out = uint8(255 · (generated/255 · w + (1 − w) · original/255)), w = blurred hole / 255, per RGB channel, in
 * doubles and in Python's operation order; alpha 255. `hole` is 0/1 per pixel.
 */
export function pasteHole(
  original: Uint8ClampedArray | Uint8Array,
  generated: Uint8ClampedArray | Uint8Array,
  hole: Uint8Array,
  width: number,
  height: number,
): Uint8ClampedArray<ArrayBuffer> {
  const pixels = width * height;
  const weight = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) weight[p] = hole[p] ? 255 : 0;
  const blurred = gaussianBlurLikePil(weight, width, height, PASTE_BLUR_RADIUS);
  const out = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    const w = blurred[p] / 255.0;
    for (let c = 0; c < 3; c++) {
      const blended = (generated[4 * p + c] / 255.0) * w + (1.0 - w) * (original[4 * p + c] / 255.0);
      out[4 * p + c] = Math.trunc(blended * 255.0);
    }
    out[4 * p + 3] = 255;
  }
  return out;
}
