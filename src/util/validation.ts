// zod issues and document paths as one line a user can act on.
import type { z } from 'zod';

/** `shards[3].zone`, `deployment.zones.ez-bj.portBase`: the path inside a document, as users write it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

/** One issue as `path: what is wrong, what is expected` (zod's wording, trimmed of its "Invalid input:" prefix). */
export function formatIssue(issue: z.core.$ZodIssue): string {
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && /received undefined$/.test(message)) {
    message = `required (${message.replace(/, received undefined$/, '')})`;
  }
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  return `${formatPath(issue.path)}: ${message}`;
}

/**
 * All issues on one line: the first in full, then how many more. An unknown key is reported
 * first, since a typo (`shrads:`) usually explains the "required" issue that follows it.
 */
export function summarizeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const typo = issues.find((i) => i.code === 'unrecognized_keys');
  const first = formatIssue(typo ?? issues[0]);
  return issues.length > 1 ? `${first} (and ${issues.length - 1} more)` : first;
}
