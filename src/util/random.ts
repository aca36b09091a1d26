/**
 * Seeded randomness (link jitter and toxicity, workload and benchmark points, fence generation), so a run replays: the same seed, the same
 * connections in the same order and the same chunks give the same delays and the same choices.
 *
 * Hand-written (mulberry32 + a string hash, ~15 lines) rather than a dependency: it is a tiny,
 * well-known generator and the hot path wants a plain closure, not an object per draw.
 */
export type Random = () => number;

/** mulberry32: a uniform float in [0, 1) per call, from a 32-bit seed. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the parts: derives a stream's seed from the server seed and where it is used. */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const part of parts) {
    const s = String(part);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h = Math.imul(h ^ 0x2f, 0x01000193) >>> 0;
  }
  return h;
}
