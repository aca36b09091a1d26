/**
 * A drill file (`fixtures/drills/*.yaml`): the topology, the workload, the nemesis schedule, the
 * duration, the seed and what is expected — validated like a topology, every error naming the
 * file, the field and what is expected.
 */
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../../src/util/errors.js';
import { readInputFile } from '../../src/util/input-file.js';
import { parseDuration } from '../../src/util/parse.js';
import { escapeInvisible, summarizeIssues } from '../../src/util/validation.js';
import { NEMESIS_NAMES, nemesisFromSpec } from '../nemesis/index.js';

const Duration = (what: string, min = 0, max = 3_600_000) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return parseDuration(v, what, { min, max });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const Workload = z.strictObject({
  /** order lives started per second (all processes together) */
  rate: z.number().positive().max(2000).default(20),
  /** logical client processes (at most one operation in flight each) */
  concurrency: z.number().int().min(1).max(512).default(16),
  /** share of lives cancelled on the way */
  cancelRate: z.number().min(0).max(1).default(0.1),
  /** per order step, the chance of an extra read of the order */
  reads: z.number().min(0).max(1).default(0.2),
  /** user registrations (Global Zone) per order life */
  registrations: z.number().min(0).max(1).default(0.05),
  /** per-request timeout */
  timeout: Duration('workload.timeout', 100, 60_000).default(5000),
});

/** `{at, for?, nemesis: <name>, …its parameters}` (harness/nemesis/spec.ts checks the parameters) */
const ScheduleEntry = z.looseObject({
  /** when it starts, after the drill began */
  at: Duration('schedule[].at', 0),
  /** how long a fault lasts before it is stopped (faults only; actions run once) */
  for: Duration('schedule[].for', 1).optional(),
  nemesis: z.string({ error: `expected nemesis: one of ${NEMESIS_NAMES.join(', ')}` }),
});

export const DrillSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a drill name: lowercase letters, digits and -' }),
  description: z.string().max(2000).optional(),
  /** the topology file, relative to the drill file (default: the project's two-zones topology) */
  topology: z.string().optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .default(1),
  duration: Duration('duration', 1000, 3_600_000),
  /** how long the drain may take after the run, for the cluster to be whole again */
  drain: Duration('drain', 1000, 600_000).default(60_000),
  workload: Workload.prefault({}),
  schedule: z.array(ScheduleEntry).max(200).default([]),
  /** what the drill expects beyond every invariant holding */
  expect: z
    .strictObject({
      /** how many failovers the drill should see happen (e.g. 0 for a partition) */
      failovers: z.number().int().min(0).optional(),
    })
    .prefault({}),
});

export type Drill = z.infer<typeof DrillSchema> & { file: string; topologyFile: string | undefined };

export class DrillError extends UsageError {}

/** Validate drill YAML text; `file` names it in errors and anchors the topology path. */
export function parseDrill(text: string, file: string): Drill {
  const where = escapeInvisible(file);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new DrillError(
      `${where}:${pos ? `${pos.line}:${pos.col}` : ''} YAML syntax: ${escapeInvisible(e.message.split('\n')[0])}`,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch {
    throw new DrillError(`${where}: YAML aliases: too many alias copies; write the values out`);
  }
  const r = DrillSchema.safeParse(raw ?? {});
  if (!r.success) throw new DrillError(`${where}: ${summarizeIssues(r.error.issues)}`);
  const d = r.data;
  for (const [i, s] of d.schedule.entries()) {
    try {
      nemesisFromSpec(s, { where: `schedule[${i}]` });
    } catch (err) {
      throw new DrillError(`${where}: ${(err as Error).message}`);
    }
    if (s.at >= d.duration)
      throw new DrillError(
        `${where}: schedule[${i}].at: ${s.at} ms is not within the drill's duration (${d.duration} ms)`,
      );
  }
  return {
    ...d,
    file,
    topologyFile: d.topology ? resolve(dirname(file), d.topology) : undefined,
  };
}

export function loadDrill(file: string): Drill {
  const path = resolve(file);
  return parseDrill(
    readInputFile(path, { what: 'drill file', maxBytes: 1 << 20, display: escapeInvisible(file) }),
    path,
  );
}
