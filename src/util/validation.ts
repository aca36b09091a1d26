// zod issues and document paths as one line a user can act on.
import type { z } from 'zod';

/**
 * Characters that do not show, or show as something else, in a terminal: controls, format
 * characters (zero-width space and joiners, bidi overrides, BOM), separators other than the plain
 * space, private use, lone surrogates, unassigned code points, variation selectors, Hangul fillers.
 */
const INVISIBLE =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u115f\u1160\u3164\uffa0\p{Variation_Selector}]/gu;

/** `\u200b` for each invisible character (astral ones as their two UTF-16 halves, as in JSON). */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

/**
 * A value from user input as it appears in a message: a string quoted and escaped (so that
 * `ez-bj\u200b` does not pass for `ez-bj`), anything else as JSON; cut to `max` characters.
 */
export function quote(value: unknown, max = 48): string {
  if (typeof value === 'string') {
    const chars = Array.from(value);
    const cut = chars.length > max ? `${chars.slice(0, max).join('')}…` : value;
    return escapeInvisible(JSON.stringify(cut));
  }
  const text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  return escapeInvisible(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** `shards[3].zone`, `deployment.zones.ez-bj.portBase`: the path inside a document, as users write it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${escapeInvisible(String(key))}` : escapeInvisible(String(key));
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
    const keys = issue.keys.map((k) => quote(k)).join(', ');
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
