/**
 * Standard-normal noise from a seed: SplitMix64 + Box–Muller, the same generator as the C++ runtime's
 * moebius_seeded_noise. It is not torch's generator: to reproduce a Python result, pass Python's noise.
 */
const MASK64 = (1n << 64n) - 1n;

export function seededNormalNoise(seed: number | bigint, count: number): Float32Array {
  const out = new Float32Array(count);
  let state = BigInt(seed) & MASK64;
  const nextBits = (): bigint => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
  // Uniform in (0, 1]: 53 random bits, never 0 so the logarithm stays finite.
  const nextUniform = (): number => (Number(nextBits() >> 11n) + 1) / 9007199254740992;
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(nextUniform()));
    const angle = 6.283185307179586 * nextUniform();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}
