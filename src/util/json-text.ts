// JSON.parse with an error that says where (line, column) and what, but never quotes the text:
// V8's own message echoes the file's first bytes ("Unexpected token 'r', "root:x:0:0"..."), which a
// message must not do with a file the user pointed at by mistake (/etc/passwd).

/** A syntax error at 1-based `line`, `column`; `reason` holds no part of the text. */
export class JsonTextError extends Error {
  readonly line: number;
  readonly column: number;
  readonly reason: string;
  constructor(reason: string, line: number, column: number) {
    super(`${reason} at line ${line}, column ${column}`);
    this.name = 'JsonTextError';
    this.reason = reason;
    this.line = line;
    this.column = column;
  }
}

/** JSON.parse(text); on a syntax error, a JsonTextError. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // V8 names the position for most errors ("... in JSON at position 12"), not for a bad token
    const m = /^(.*?) in JSON at position (\d+)/.exec(err.message);
    const at = m ? Number(m[2]) : firstError(text);
    const reason = m
      ? m[1].replace(/^./, (c) => c.toLowerCase())
      : at >= text.length
        ? 'unexpected end of the text'
        : 'unexpected character';
    const before = text.slice(0, Math.min(at, text.length));
    const line = before.split('\n').length;
    const column = Math.min(at, text.length) - before.lastIndexOf('\n');
    throw new JsonTextError(reason, line, column);
  }
}

/**
 * Offset of the first character where `text` stops being JSON (text.length when it ends early).
 * Only called after JSON.parse failed, to place an error V8 gives no position for; iterative, so
 * deep nesting cannot overflow the stack.
 */
function firstError(text: string): number {
  const n = text.length;
  let i = 0;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  /** a string at i (text[i] === '"'): false at the first bad character */
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return false;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return false;
      } else i++;
    }
    return false;
  };
  /** a scalar other than a string at i: false at the first bad character */
  const scalar = (): boolean => {
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  // containers still open: '{' or '['; `expect` is what may come next
  const stack: string[] = [];
  let expect: 'value' | 'key' | 'after' = 'value';
  ws();
  for (;;) {
    ws();
    if (i >= n) return n;
    const c = text[i];
    if (expect === 'value') {
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          expect = 'after';
        } else expect = c === '{' ? 'key' : 'value';
        continue;
      }
      if (c === '"' ? !string() : !scalar()) return i;
      expect = 'after';
    } else if (expect === 'key') {
      if (c !== '"' || !string()) return i;
      ws();
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
    } else {
      const top = stack[stack.length - 1];
      if (top === undefined) return i; // something after the whole value
      if (c === ',') {
        i++;
        expect = top === '{' ? 'key' : 'value';
      } else if (c === (top === '{' ? '}' : ']')) {
        stack.pop();
        i++;
      } else return i;
    }
  }
}
