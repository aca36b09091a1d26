// Where the package lives: its root, fixtures and the embedded default topology.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root (the folder holding ezctl's package.json), from sources or from dist/. */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fixtures'))) {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('ezctl: cannot find the package root (package.json next to fixtures/)');
    dir = up;
  }
}

export const fixturesDir = (): string => join(projectRoot(), 'fixtures');
export const defaultTopologyPath = (): string => join(fixturesDir(), 'topologies', 'two-zones.yaml');
export const resolveFrom = (file: string, rel: string): string => resolve(dirname(file), rel);
