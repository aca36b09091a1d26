import { createRequire } from 'node:module';

/**
 * Node's own HTTP/1.1 parser (llhttp, in C++), the one node:http drives, taken from node:http's
 * internal `_http_common` module. The gateway drives it directly on plain sockets (front.ts,
 * upstream.ts) instead of going through node:http and undici: their per-request machinery
 * (IncomingMessage/ServerResponse streams, header objects, undici's request/handler layers) cost
 * ~2× the CPU of the proxying itself (docs/router.md). Parsing stays llhttp's, so framing
 * (Content-Length, chunked, limits, malformed heads) is exactly node:http's. `process.binding
 * ('http_parser')` is the same class but prints a deprecation warning on Node 20; `_http_common`
 * does not. Checked on Node 20; a Node without it fails at start-up with the error below.
 */
export interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  /** bytes parsed, or an Error with `code` (HPE_…) and `bytesParsed` */
  execute(data: Buffer): number | ParseError;
  /** end of input: completes a close-delimited message; an Error if a message was cut short */
  finish(): number | ParseError | undefined;
  close(): void;
  free(): void;
  remove(): void;
  /** read a libuv stream handle directly (node:http's server does this) */
  consume(handle: object): void;
  unconsume(): void;
  /** the bytes of the read being parsed (after a consume()d read) */
  getCurrentBuffer(): Buffer;
  // callbacks, keyed by the HTTPParser.kOn… constants
  [key: number]: unknown;
}

export interface ParseError extends Error {
  /** llhttp's error name: HPE_INVALID_METHOD, HPE_INVALID_CHUNK_SIZE, … */
  code: string;
  /** llhttp's own words: `Invalid method encountered`, `Chunk size overflow`, … */
  reason?: string;
  bytesParsed: number;
}

interface HttpParserClass {
  new (): HttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

const common = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: HttpParserClass;
  methods: string[];
};

if (typeof common.HTTPParser !== 'function' || !Array.isArray(common.methods))
  throw new Error(
    `node ${process.version}: _http_common has no HTTPParser (the gateway was built on Node 20)`,
  );

export const HTTPParser = common.HTTPParser;
/** llhttp method numbers → names */
export const METHODS: readonly string[] = common.methods;
export const kOnHeaders = HTTPParser.kOnHeaders | 0;
export const kOnHeadersComplete = HTTPParser.kOnHeadersComplete | 0;
export const kOnBody = HTTPParser.kOnBody | 0;
export const kOnMessageComplete = HTTPParser.kOnMessageComplete | 0;
export const kOnExecute = HTTPParser.kOnExecute | 0;
