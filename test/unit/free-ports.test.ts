// Ports handed out for topologies stay reserved: nothing listens on them yet, yet no later pick
// (this process or another) may return them.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../src/util/net.js';

describe('free ports', () => {
  it('never hands out a port twice while its reservation holds, in one process', async () => {
    const a = await freePorts(300);
    const b = await freePorts(300);
    expect(new Set(a).size).toBe(300);
    expect(a.filter((p) => b.includes(p))).toEqual([]);
  });

  it('nor to another process', async () => {
    const a = await freePorts(300);
    const script = `import('${new URL('../../src/util/net.ts', import.meta.url).pathname}').then(async (m) => console.log(JSON.stringify(await m.freePorts(300))))`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    const b = JSON.parse(out) as number[];
    expect(b).toHaveLength(300);
    expect(a.filter((p) => b.includes(p))).toEqual([]);
  });
});
