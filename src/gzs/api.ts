/**
 * A client of GZS's HTTP API for tools (`ezctl gzs …`, `ezctl route --gzs`, the switch, tests).
 * Parts that route use the SDK (src/sdk/client.ts) instead. Several URLs: tried in order; a
 * change moves on to the next URL only when the connection was refused (it was never sent).
 */
import { userInfo } from 'node:os';
import { request } from 'undici';
import type { RoutingTable } from '../routing/index.js';
import { type AckReport, DEV_TOKEN, type OwnershipAnswer } from '../shared/gzs-protocol.js';
import { EzError, errorMessage } from '../util/errors.js';
import type { AppliedChange, Change } from './changes.js';
import type { HistoryEntry, OwnerAt } from './doc.js';
import { GzsError } from './errors.js';
import type { BeginRequest, SwitchEntry } from './journal.js';

export interface ChangeResult {
  epoch: number;
  generation: string;
  /** true when every change was a no-op: nothing stored, pushed or recorded; `epoch` is the current one */
  noop: boolean;
  /** what changed (no-ops left out) */
  changes: AppliedChange[];
  table: RoutingTable;
}

/** What GZS answers to a switch-journal call: the epoch after it and the entry as stored. */
export interface SwitchAnswer {
  epoch: number;
  entry: SwitchEntry;
}

export interface HistoryResult {
  epoch: number;
  generation: string;
  createdAt: number;
  oldestEpoch: number | null;
  entries: HistoryEntry[];
}

export interface GzsApiOptions {
  /** bearer token of the change API (default EZ_GZS_TOKEN, else the development token) */
  token?: string;
  /** recorded in GZS's history (X-Ez-Actor); default `ezctl/<user>` */
  actor?: string;
  timeoutMs?: number;
}

const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export class GzsApi {
  readonly urls: string[];
  private readonly token: string;
  private readonly actor: string;
  private readonly timeoutMs: number;

  constructor(urls: string | readonly string[], opts: GzsApiOptions = {}) {
    const list = typeof urls === 'string' ? urls.split(',') : [...urls];
    this.urls = list
      .map((u) => u.trim())
      .filter(Boolean)
      .map((u) => (/^[a-z]+:\/\//i.test(u) ? u : `http://${u}`).replace(/\/+$/, ''));
    if (this.urls.length === 0) throw new EzError('EZ_USAGE', 'no GZS URL given', 2);
    this.token = opts.token ?? process.env.EZ_GZS_TOKEN ?? DEV_TOKEN;
    this.actor = opts.actor ?? `ezctl/${safeUser()}`;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async table(): Promise<{ url: string; generation: string; table: RoutingTable }> {
    const r = await this.call<RoutingTable>('GET', '/table');
    return { url: r.url, generation: r.headers['x-ez-generation'] ?? '', table: r.body };
  }

  async history(since = 0, limit?: number): Promise<HistoryResult> {
    const q = `?since=${since}${limit !== undefined ? `&limit=${limit}` : ''}`;
    return (await this.call<HistoryResult>('GET', `/history${q}`)).body;
  }

  async acks(epoch?: number, waitMs?: number): Promise<AckReport> {
    const q = new URLSearchParams();
    if (epoch !== undefined) q.set('epoch', String(epoch));
    if (waitMs) q.set('waitMs', String(waitMs));
    const qs = q.size > 0 ? `?${q}` : '';
    return (await this.call<AckReport>('GET', `/acks${qs}`, undefined, (waitMs ?? 0) + this.timeoutMs)).body;
  }

  async ownerAt(shard: number, at?: number): Promise<OwnerAt> {
    return (await this.call<OwnerAt>('GET', `/owner?shard=${shard}${at !== undefined ? `&at=${at}` : ''}`))
      .body;
  }

  /**
   * The ownership log: with `since` (an epoch held), only newer events (base null) unless `since` is
   * older than what GZS retains. Read it with ownershipView; keep a copy current with mergeOwnership.
   */
  async ownership(since?: number): Promise<OwnershipAnswer> {
    return (
      await this.call<OwnershipAnswer>('GET', `/ownership${since !== undefined ? `?since=${since}` : ''}`)
    ).body;
  }

  /** A batch of changes applied as one epoch. */
  async changes(changes: Change[], ifEpoch?: number): Promise<ChangeResult> {
    return this.change('POST', '/changes', { changes, ...(ifEpoch !== undefined ? { ifEpoch } : {}) });
  }

  lock(shard: number, o: { reason?: string; ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('POST', `/shards/${shard}/lock`, o);
  }

  unlock(shard: number, o: { ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('POST', `/shards/${shard}/unlock`, o);
  }

  setOwner(shard: number, zone: string, o: { ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('PUT', `/shards/${shard}/owner`, { zone, ...o });
  }

  setZoneState(zone: string, state: 'active' | 'down', o: { ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('PUT', `/zones/${encodeURIComponent(zone)}/state`, { state, ...o });
  }

  lockOrder(orderId: string, reason: string, o: { ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('PUT', `/order-locks/${encodeURIComponent(orderId)}`, { reason, ...o });
  }

  unlockOrder(orderId: string, o: { ifEpoch?: number } = {}): Promise<ChangeResult> {
    return this.change('DELETE', `/order-locks/${encodeURIComponent(orderId)}`, o);
  }

  // ---- the switch journal (journal.ts): the driver's calls ---------------------------------

  switches(): Promise<{ epoch: number; now: number; entries: SwitchEntry[] }> {
    return this.call<{ epoch: number; now: number; entries: SwitchEntry[] }>('GET', '/switches').then(
      (r) => r.body,
    );
  }

  beginSwitch(req: BeginRequest): Promise<SwitchAnswer> {
    return this.call<SwitchAnswer>('POST', '/switches', req).then((r) => r.body);
  }

  switchAction(
    id: string,
    action: 'step' | 'heartbeat' | 'commit' | 'rollback' | 'done',
    body: { holder: string; [k: string]: unknown },
  ): Promise<SwitchAnswer> {
    return this.call<SwitchAnswer>('POST', `/switches/${encodeURIComponent(id)}/${action}`, body).then(
      (r) => r.body,
    );
  }

  private async change(method: string, path: string, body: object): Promise<ChangeResult> {
    return (await this.call<ChangeResult>(method, path, body)).body;
  }

  private async call<T>(
    method: string,
    path: string,
    body?: object,
    timeoutMs = this.timeoutMs,
  ): Promise<{ url: string; headers: Record<string, string>; body: T }> {
    const isChange = method !== 'GET';
    const failures: string[] = [];
    for (const base of this.urls) {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(`${base}${path}`, {
          method: method as 'GET',
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          headers: {
            ...(body ? { 'content-type': 'application/json' } : {}),
            ...(isChange ? { authorization: `Bearer ${this.token}`, 'x-ez-actor': this.actor } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        failures.push(`${base}: ${code || errorMessage(err)}`);
        // a change that may have reached GZS is not sent again elsewhere (it could apply twice)
        if (isChange && !NEVER_SENT.has(code)) break;
        continue;
      }
      const text = await res.body.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const headers = Object.fromEntries(
          Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]),
        );
        return { url: base, headers, body: json as T };
      }
      const e = (json as { error?: { code?: string; message?: string; [k: string]: unknown } })?.error;
      if (e?.code && e.message) {
        const { code, message, ...extra } = e;
        throw new GzsError(res.statusCode, code, `GZS ${base}: ${message}`, extra);
      }
      throw new GzsError(
        res.statusCode,
        'EZ_GZS_ERROR',
        `GZS ${base}: HTTP ${res.statusCode} on ${method} ${path}`,
      );
    }
    throw new EzError(
      'EZ_GZS_UNREACHABLE',
      `cannot reach GZS: ${failures.join('; ')} (is it running? \`ezctl up\` starts it)`,
    );
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
