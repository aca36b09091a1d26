import type { FenceIndex } from '../../src/routing/index.js';
import type { Fence } from '../../src/topology/index.js';
import type { OpKind } from './history.js';

/** Random points inside the country: uniform over the fences' bounding box, kept when in a fence. */
export function pointSampler(
  fences: Fence[],
  index: FenceIndex,
  random: () => number,
): () => { lat: number; lng: number } {
  let minLat = 90;
  let maxLat = -90;
  let minLng = 180;
  let maxLng = -180;
  for (const f of fences) {
    for (const poly of f.polygons) {
      for (const [lng, lat] of poly[0]) {
        if (lat < minLat) minLat = lat;
        if (lat > maxLat) maxLat = lat;
        if (lng < minLng) minLng = lng;
        if (lng > maxLng) maxLng = lng;
      }
    }
  }
  return () => {
    for (;;) {
      const lat = minLat + random() * (maxLat - minLat);
      const lng = minLng + random() * (maxLng - minLng);
      if (index.lookup(lat, lng) >= 0) return { lat: Number(lat.toFixed(5)), lng: Number(lng.toFixed(5)) };
    }
  };
}

/**
 * The steps of one order's life the client will try, in order: placed → accepted → picked up →
 * delivered, or cancelled after placing or accepting (`cancelRate` of the orders).
 */
export function orderPlan(random: () => number, cancelRate = 0.1): OpKind[] {
  if (random() < cancelRate) return random() < 0.5 ? ['create', 'cancel'] : ['create', 'accept', 'cancel'];
  return ['create', 'accept', 'pickup', 'deliver'];
}
