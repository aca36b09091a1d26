// The JSON-lines logger (pino) of every long-running part.
import { type Logger, pino } from 'pino';

/** JSON-lines logger of a long-running part (`part` names it in every line). Level from EZ_LOG_LEVEL. */
export function createLogger(part: string, fields: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.EZ_LOG_LEVEL ?? 'info',
    base: { part, pid: process.pid, ...fields },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };
