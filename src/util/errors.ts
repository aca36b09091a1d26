/**
 * Errors that cross a boundary carry a stable `code` (DESIGN §3, §4) and the exit code the CLI
 * should use: 2 for bad input (usage), 1 for a failure found at run time.
 */
export class EzError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode = 1) {
    super(message);
    this.name = 'EzError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad input from the user: a flag, a tag, a file. Exit code 2. */
export class UsageError extends EzError {
  constructor(message: string, code = 'EZ_USAGE') {
    super(code, message, 2);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
