// One Backend interface, two transports: the desktop app's IPC (TauriBackend)
// and the engine's HTTP API for the browser (HttpBackend). The UI only ever
// talks to `Backend`; `createBackend()` picks the transport at runtime.

import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';

import type { Announcement } from './announcements';
import { readSse } from './sse';
import {
  type ActionDetail,
  type ActionSummary,
  type ErrorBody,
  type Execution,
  type ExecutionFilter,
  type Inquiry,
  type OutputChunk,
  type PackSummary,
  type ReRunRequest,
  type Revisions,
  type RunRequest,
  type WorkflowGraph,
} from './types';

export type Unsubscribe = () => void;

/**
 * What a server offers beyond StackStorm's v1 API (StackStorm 3.9's
 * `st2common/st2common/openapi.yaml`): Stormdesk's own endpoints and
 * parameters, tagged `stormdesk` / `x-stormdesk` in docs/openapi.yaml. A
 * feature whose flag is false is hidden, or falls back to what StackStorm
 * offers; see docs/remote.md ("What works against what"). Probed once per
 * connection: `probeCapabilities` in lib/connections.ts.
 */
export interface Capabilities {
  /** `GET /v1/packs/{pack}/revisions` and `content_version`: the revision picker, a pack's origin and commit. */
  revisions: boolean;
  /** The numbered output log (`/output?format=json&after=`); without it the output is StackStorm's text. */
  outputLog: boolean;
  /** `GET /v1/executions/{id}/graph`: tasks not reached yet drawn in the tree. */
  graph: boolean;
  /** `POST /v1/packs/update`: Packs' Update button. */
  packUpdate: boolean;
  /** History's pack, revision and text filters (`pack`, `content_version`, `q`, `roots_only`, `since`/`until`). */
  historyFilters: boolean;
  /** The `stormdesk.announcement` stream event (an announcement with the execution that made it): the top bar's announcements. */
  announcements: boolean;
}

/** This engine, or a `stormdesk serve`: everything. */
export const STORMDESK: Capabilities = { revisions: true, outputLog: true, graph: true, packUpdate: true, historyFilters: true, announcements: true };
/** A server with StackStorm's API only. */
export const STACKSTORM: Capabilities = { revisions: false, outputLog: false, graph: false, packUpdate: false, historyFilters: false, announcements: false };

export interface Backend {
  readonly transport: 'tauri' | 'http';
  /** Where the engine is, for display. */
  readonly location: string;
  /** What the engine offers beyond StackStorm's API; the views hide what it does not. */
  readonly capabilities: Capabilities;
  listPacks(): Promise<PackSummary[]>;
  listActions(): Promise<ActionSummary[]>;
  /** The action's detail; at a revision of its (git) pack when `contentVersion` is given. */
  getAction(ref: string, contentVersion?: string): Promise<ActionDetail>;
  /** Tags, branches and recent commits of a pack (`git: false` and none for other packs). */
  listRevisions(pack: string): Promise<Revisions>;
  /**
   * Installs packs (a git URL or path, a StackStorm Exchange name,
   * `SPEC=VERSION`): resolves with the `packs.install` execution at once;
   * its output is the progress.
   */
  installPacks(packs: string[], force?: boolean): Promise<Execution>;
  /** Updates packs from their origin: resolves with the `packs.update` execution at once. */
  updatePacks(packs: string[]): Promise<Execution>;
  /** Schedules a run; resolves as soon as it is scheduled. */
  run(request: RunRequest): Promise<Execution>;
  /** Runs an execution's action again: its parameters with `overrides`, optionally at another revision. */
  reRun(id: string, request?: ReRunRequest): Promise<Execution>;
  getExecution(id: string): Promise<Execution>;
  listExecutions(filter?: ExecutionFilter): Promise<Execution[]>;
  /** Every execution below `id` (a workflow's tasks, their subworkflows' tasks, ...), flat. */
  descendants(id: string): Promise<Execution[]>;
  /** The workflow's task graph at its revision; `null` when the engine has none for it. */
  graph(id: string): Promise<WorkflowGraph | null>;
  cancel(id: string): Promise<Execution>;
  pause(id: string): Promise<Execution>;
  resume(id: string): Promise<Execution>;
  /** The recorded output after `afterSeq` (all of it without), in `seq` order. See lib/output-hub.ts. */
  output(id: string, afterSeq?: number): Promise<OutputChunk[]>;
  /** Open Inquiries (pending `core.ask` executions), newest first. */
  listInquiries(): Promise<Inquiry[]>;
  /** One open Inquiry; rejects when it was answered, timed out or is not one. */
  getInquiry(id: string): Promise<Inquiry>;
  /**
   * Answers an Inquiry as the console's user. Rejects with the engine's
   * message when the answer does not match the schema or the user may not
   * answer it (`users`); on success the workflow goes on by itself.
   */
  respondInquiry(id: string, response: Record<string, unknown>): Promise<void>;
  /** Every change of every execution. */
  onExecution(handler: (execution: Execution) => void): Promise<Unsubscribe>;
  /** Every output chunk of every execution, live only (no backlog). */
  onOutput(handler: (executionId: string, chunk: OutputChunk) => void): Promise<Unsubscribe>;
  /** Events may have been missed (the UI fell behind, or the stream reconnected): refetch what is shown. */
  onResync(handler: () => void): Promise<Unsubscribe>;
  /**
   * The engine's event stream broke and could not be opened again (the
   * engine stopped, or the network failed): what is shown may be out of
   * date. Said once per outage; the stream keeps trying, and its return is
   * an {@link onResync}. Never for the desktop app's own engine.
   */
  onLost(handler: (error: BackendError) => void): Promise<Unsubscribe>;
  /** Every announcement (`core.announcement`), live only. See lib/announcements.ts. */
  onAnnouncement(handler: (announcement: Announcement) => void): Promise<Unsubscribe>;
}

/** Every failure the UI sees: the engine's `{faultstring, code}`, plus transport codes of our own. */
export class BackendError extends Error implements ErrorBody {
  readonly code: string;
  readonly faultstring: string;

  constructor(body: ErrorBody) {
    super(body.faultstring);
    this.name = 'BackendError';
    this.code = body.code;
    this.faultstring = body.faultstring;
  }

  static from(error: unknown): BackendError {
    if (error instanceof BackendError) return error;
    if (isErrorBody(error)) return new BackendError(error);
    const message = error instanceof Error ? error.message : String(error);
    return new BackendError({ code: 'unavailable', faultstring: message });
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorBody).code === 'string' &&
    typeof (value as ErrorBody).faultstring === 'string'
  );
}

export function isTauri(): boolean {
  return '__TAURI_INTERNALS__' in window;
}

/** The embedded engine (desktop) or the page's own server (browser); a remote when given. */
export function createBackend(remote: RemoteTarget | null = null): Backend {
  if (remote) return new HttpBackend(remote);
  return isTauri() ? new TauriBackend() : new HttpBackend();
}

// ---------------------------------------------------------------------------
// Desktop: Tauri commands (src-tauri/src/commands) and events (src-tauri/src/events.rs).

export class TauriBackend implements Backend {
  readonly transport = 'tauri';
  readonly location = 'desktop';
  readonly capabilities = STORMDESK;

  private async call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await invoke<T>(cmd, args);
    } catch (error) {
      throw BackendError.from(error);
    }
  }

  listPacks(): Promise<PackSummary[]> {
    return this.call('list_packs');
  }

  listActions(): Promise<ActionSummary[]> {
    return this.call('list_actions');
  }

  getAction(ref: string, contentVersion?: string): Promise<ActionDetail> {
    return this.call('get_action', { actionRef: ref, contentVersion: contentVersion || null });
  }

  listRevisions(pack: string): Promise<Revisions> {
    return this.call('list_revisions', { pack });
  }

  installPacks(packs: string[], force = false): Promise<Execution> {
    return this.call('install_packs', { packs, force });
  }

  updatePacks(packs: string[]): Promise<Execution> {
    return this.call('update_packs', { packs });
  }

  reRun(id: string, request: ReRunRequest = {}): Promise<Execution> {
    return this.call('re_run_execution', {
      id,
      parameters: request.parameters ?? null,
      contentVersion: request.content_version ?? null,
    });
  }

  descendants(id: string): Promise<Execution[]> {
    return this.call('execution_descendants', { id, depth: -1 });
  }

  async graph(id: string): Promise<WorkflowGraph | null> {
    try {
      return await this.call<WorkflowGraph>('workflow_graph', { id });
    } catch {
      return null;
    }
  }

  pause(id: string): Promise<Execution> {
    return this.call('pause_execution', { id });
  }

  resume(id: string): Promise<Execution> {
    return this.call('resume_execution', { id });
  }

  run(request: RunRequest): Promise<Execution> {
    return this.call('run_action', {
      action: request.action,
      parameters: request.parameters,
      contentVersion: request.content_version ?? null,
    });
  }

  getExecution(id: string): Promise<Execution> {
    return this.call('get_execution', { id });
  }

  listExecutions(filter: ExecutionFilter = {}): Promise<Execution[]> {
    return this.call('list_executions', { filter });
  }

  cancel(id: string): Promise<Execution> {
    return this.call('cancel_execution', { id });
  }

  output(id: string, afterSeq?: number): Promise<OutputChunk[]> {
    return this.call('execution_output', { id, afterSeq: afterSeq ?? null });
  }

  listInquiries(): Promise<Inquiry[]> {
    return this.call('list_inquiries');
  }

  getInquiry(id: string): Promise<Inquiry> {
    return this.call('get_inquiry', { id });
  }

  async respondInquiry(id: string, response: Record<string, unknown>): Promise<void> {
    await this.call('respond_inquiry', { id, response });
  }

  async onExecution(handler: (execution: Execution) => void): Promise<Unsubscribe> {
    return listen<Execution>('execution', (event) => handler(event.payload));
  }

  async onOutput(handler: (executionId: string, chunk: OutputChunk) => void): Promise<Unsubscribe> {
    return listen<OutputChunk>('output', (event) => handler(event.payload.execution_id, event.payload));
  }

  async onResync(handler: () => void): Promise<Unsubscribe> {
    return listen<number>('resync', () => handler());
  }

  async onLost(): Promise<Unsubscribe> {
    // The engine runs in this process: its events cannot be cut off.
    return () => undefined;
  }

  async onAnnouncement(handler: (announcement: Announcement) => void): Promise<Unsubscribe> {
    return listen<Announcement>('announcement', (event) => handler(event.payload));
  }
}

// ---------------------------------------------------------------------------
// Browser: the engine's HTTP API (StackStorm's endpoint names), SSE for events.

/** What `/console/info` says: whether this browser has a session, and where the token is. */
export interface SessionInfo {
  signed_in: boolean;
  user: string | null;
  token_file: string;
}

/**
 * The console talks to its own origin only: the page is served by
 * `stormdesk serve`, which serves the API beside it (in development, Vite
 * proxies it). Nothing in the address can point it, or its credentials,
 * anywhere else. Credentials travel in the session cookie that
 * `/console/session` sets (HttpOnly, SameSite=Strict): scripts never hold them.
 */
export function pageOrigin(): string {
  return window.location.origin;
}

/**
 * Signs in with a token the address carries (`?token=`, the link `stormdesk
 * serve` prints): presented once to `/console/session`, then removed from the
 * address bar and the history entry. Other query parameters are ignored.
 */
export async function signInFromPage(): Promise<void> {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (!token) return;
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url);
  await signIn(token).catch(() => {
    // The sign-in page says what is wrong.
  });
}

async function consoleRequest<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(pageOrigin() + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new BackendError({ code: 'unavailable', faultstring: `cannot reach the engine at ${pageOrigin()}: ${String(error)}` });
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

/** Presents a token; the server answers with the session cookie. */
export function signIn(token: string): Promise<{ user: string; expiry: string }> {
  return consoleRequest('POST', '/console/session', { token });
}

export function signOut(): Promise<void> {
  return consoleRequest('DELETE', '/console/session');
}

/** Whether this browser has a session, and where the token file is. */
export function sessionInfo(): Promise<SessionInfo> {
  return consoleRequest('GET', '/console/info');
}

type StreamEvent =
  | { kind: 'execution'; execution: Execution }
  | { kind: 'output'; executionId: string; chunk: OutputChunk }
  | { kind: 'announcement'; announcement: Announcement }
  | { kind: 'resync' }
  | { kind: 'lost'; error: BackendError };

/**
 * A remote server the console talks to instead of its own origin (see
 * lib/connections.ts): its API and stream URLs, and the credentials to send
 * (a token or an API key, in StackStorm's headers; never cookies).
 */
export interface RemoteTarget {
  name: string;
  /** `https://host/api/v1` or `https://host:port/v1`, no trailing slash. */
  api: string;
  /** Where `/stream` is. */
  stream: string;
  /** `X-Auth-Token` or `St2-Api-Key`, current (tokens are renewed). */
  headers(): Record<string, string>;
  /** Stormdesk-only endpoints this server has (probed at connect). */
  capabilities: Capabilities;
  /** The server refused the credentials (401): the console asks for them again. */
  onRefused(error: BackendError): void;
  /**
   * How requests reach the server: the page's `fetch` when absent (the
   * browser), the desktop app's commands inside it (lib/remote-transport.ts:
   * the connection's CA certificate applies and the app adds the credentials).
   */
  transport?: RemoteTransport;
}

/** A remote's answer through a {@link RemoteTransport}: any status, the body as text. */
export interface TransportResponse {
  status: number;
  text: string;
}

/** What a {@link RemoteTransport}'s event stream reports. */
export interface TransportEvents {
  /** Connected; `again` after a reconnect (events may have been missed). */
  open(again: boolean): void;
  message(id: string | undefined, event: string, data: string): void;
  /** A connection attempt failed (`unauthorized`: the stream has stopped). */
  failed(error: BackendError): void;
}

/**
 * The seam between HttpBackend and the network for a remote: `request`
 * rejects with a BackendError only when the server was not reached (an HTTP
 * error status is an answer); `events` follows `url` (the stream), resuming
 * with `Last-Event-ID` after a reconnect, until the returned function is called.
 */
export interface RemoteTransport {
  request(method: string, url: string, accept: string, body?: unknown): Promise<TransportResponse>;
  events(url: string, sink: TransportEvents): Unsubscribe;
  /** The pack's revisions where the server has no revisions endpoint (by `git ls-remote` of its repo_url). */
  packRevisions?(pack: string): Promise<Revisions>;
}

export class HttpBackend implements Backend {
  readonly transport = 'http';
  readonly location: string;
  readonly capabilities: Capabilities;
  private readonly stream: EventStream | TransportEventStream;

  constructor(private readonly remote: RemoteTarget | null = null) {
    this.location = remote ? remote.api : pageOrigin();
    this.capabilities = remote ? remote.capabilities : STORMDESK;
    const streamUrl = (): string =>
      this.url('/v1/stream', {
        events: [EXECUTION_CREATE, EXECUTION_UPDATE, OUTPUT_CREATE, ...(this.capabilities.announcements ? [ANNOUNCEMENT] : [])].join(','),
      });
    this.stream = remote?.transport
      ? new TransportEventStream(remote.transport, streamUrl, (error) => this.refused(error))
      : new EventStream(streamUrl, () => this.authHeaders(), remote ? 'omit' : 'same-origin', (error) => this.refused(error));
  }

  /** `method` on `url` through the remote's transport: the status and the body's text. */
  private async viaTransport(transport: RemoteTransport, method: string, url: string, accept: string, body?: unknown): Promise<TransportResponse> {
    let answer: TransportResponse;
    try {
      answer = await transport.request(method, url, accept, body);
    } catch (error) {
      const failure = BackendError.from(error);
      this.refused(failure);
      throw failure;
    }
    if (answer.status >= 400) {
      const failure = errorFromText(answer.status, '', answer.text);
      this.refused(failure);
      throw failure;
    }
    return answer;
  }

  /**
   * An API URL: on the page's own origin, or on the remote chosen in the
   * title bar (`/v1/...` maps to its API URL, `/v1/stream` to its stream URL).
   */
  private url(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
    let url: URL;
    if (this.remote) {
      const rest = path.replace(/^\/v1/, '');
      url = new URL((rest === '/stream' ? this.remote.stream : this.remote.api) + rest);
    } else {
      url = new URL(path, pageOrigin());
    }
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  private authHeaders(): Record<string, string> {
    return this.remote ? this.remote.headers() : {};
  }

  private refused(error: BackendError): void {
    if (this.remote && error.code === 'unauthorized') this.remote.onRefused(error);
  }

  private async request<T>(method: string, url: string, body?: unknown): Promise<T> {
    if (this.remote?.transport) {
      const answer = await this.viaTransport(this.remote.transport, method, url, 'application/json', body);
      return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T;
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        credentials: this.remote ? 'omit' : 'same-origin',
        headers: {
          Accept: 'application/json',
          ...this.authHeaders(),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new BackendError({
        code: 'unavailable',
        faultstring: `cannot reach the engine at ${this.location}: ${String(error)}`,
      });
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      this.refused(error);
      throw error;
    }
    return (await response.json()) as T;
  }

  listPacks(): Promise<PackSummary[]> {
    return this.request('GET', this.url('/v1/packs'));
  }

  listActions(): Promise<ActionSummary[]> {
    return this.request('GET', this.url('/v1/actions'));
  }

  getAction(ref: string, contentVersion?: string): Promise<ActionDetail> {
    // StackStorm's overview: the runner's parameters merged in. Reading it at
    // a revision is Stormdesk's; StackStorm's has the installed one only.
    const at = this.remote && !this.remote.capabilities.revisions ? undefined : contentVersion || undefined;
    return this.request('GET', this.url(`/v1/actions/views/overview/${encodeURIComponent(ref)}`, { content_version: at }));
  }

  listRevisions(pack: string): Promise<Revisions> {
    // A server without Stormdesk's revisions endpoint (StackStorm): no picker.
    // The desktop app lists the tags and branches of the pack's repo_url
    // itself; a browser cannot (docs/remote.md), so it shows no picker.
    if (!this.capabilities.revisions) {
      if (this.remote?.transport?.packRevisions) return this.remote.transport.packRevisions(pack);
      return Promise.resolve({ pack, git: false, checked_out: null, revisions: [] });
    }
    return this.request('GET', this.url(`/v1/packs/${encodeURIComponent(pack)}/revisions`));
  }

  async installPacks(packs: string[], force = false): Promise<Execution> {
    const started = await this.request<{ execution_id: string }>('POST', this.url('/v1/packs/install'), { packs, force });
    return this.getExecution(started.execution_id);
  }

  async updatePacks(packs: string[]): Promise<Execution> {
    if (!this.capabilities.packUpdate) throw new BackendError({ code: 'unsupported', faultstring: `${this.location} has no pack update (a Stormdesk endpoint); install the pack again with force instead.` });
    const started = await this.request<{ execution_id: string }>('POST', this.url('/v1/packs/update'), { packs });
    return this.getExecution(started.execution_id);
  }

  run(request: RunRequest): Promise<Execution> {
    return this.request('POST', this.url('/v1/executions'), this.asRunnerParameter(request));
  }

  reRun(id: string, request: ReRunRequest = {}): Promise<Execution> {
    return this.request('POST', this.url(`/v1/executions/${encodeURIComponent(id)}/re_run`), this.asRunnerParameter(request));
  }

  /**
   * A server without Stormdesk's revisions (StackStorm) takes the revision as
   * its `content_version` runner parameter (local-shell-script, python-script), as
   * `st2 run ... content_version=REV` sends it; Stormdesk's top-level field
   * is not in StackStorm's request schema.
   */
  private asRunnerParameter<T extends { parameters?: Record<string, unknown>; content_version?: string }>(request: T): T {
    if (!this.remote || this.remote.capabilities.revisions || !request.content_version) return request;
    const { content_version: contentVersion, ...rest } = request;
    return { ...rest, parameters: { ...(request.parameters ?? {}), content_version: contentVersion } } as unknown as T;
  }

  async descendants(id: string): Promise<Execution[]> {
    const found = new Map<string, Execution>();
    const level = await this.request<Execution[]>(
      'GET',
      this.url(`/v1/executions/${encodeURIComponent(id)}/children`, { depth: -1 }),
    );
    for (const e of level) found.set(e.id, e);
    // An engine that answers with direct children only: walk down level by level.
    let pending = level.filter((e) => e.children.some((c) => !found.has(c)));
    while (pending.length > 0) {
      const next = await Promise.all(
        pending.map((e) =>
          this.request<Execution[]>('GET', this.url(`/v1/executions/${encodeURIComponent(e.id)}/children`, { depth: 1 })),
        ),
      );
      const fresh = next.flat().filter((e) => !found.has(e.id));
      for (const e of fresh) found.set(e.id, e);
      pending = fresh.filter((e) => e.children.some((c) => !found.has(c)));
    }
    return [...found.values()];
  }

  async graph(id: string): Promise<WorkflowGraph | null> {
    if (!this.capabilities.graph) return null;
    try {
      return await this.request<WorkflowGraph>('GET', this.url(`/v1/executions/${encodeURIComponent(id)}/graph`));
    } catch {
      return null;
    }
  }

  pause(id: string): Promise<Execution> {
    return this.request('PUT', this.url(`/v1/executions/${encodeURIComponent(id)}`), { status: 'pausing' });
  }

  resume(id: string): Promise<Execution> {
    return this.request('PUT', this.url(`/v1/executions/${encodeURIComponent(id)}`), { status: 'resuming' });
  }

  getExecution(id: string): Promise<Execution> {
    return this.request('GET', this.url(`/v1/executions/${encodeURIComponent(id)}`));
  }

  listExecutions(filter: ExecutionFilter = {}): Promise<Execution[]> {
    return this.request('GET', this.url('/v1/executions', this.capabilities.historyFilters ? { ...filter } : stackstormFilter(filter)));
  }

  async cancel(id: string): Promise<Execution> {
    // StackStorm answers a completed execution's cancel with 200 and a faultstring.
    const body = await this.request<Execution | ErrorBody>('DELETE', this.url(`/v1/executions/${encodeURIComponent(id)}`));
    if ('faultstring' in body) throw new BackendError({ code: body.code ?? 'conflict', faultstring: body.faultstring });
    return body;
  }

  output(id: string, afterSeq?: number): Promise<OutputChunk[]> {
    if (!this.capabilities.outputLog) return this.textOutput(id, afterSeq);
    return this.request(
      'GET',
      this.url(`/v1/executions/${encodeURIComponent(id)}/output`, { format: 'json', after: afterSeq }),
    );
  }

  listInquiries(): Promise<Inquiry[]> {
    return this.request('GET', this.url('/v1/inquiries'));
  }

  getInquiry(id: string): Promise<Inquiry> {
    return this.request('GET', this.url(`/v1/inquiries/${encodeURIComponent(id)}`));
  }

  async respondInquiry(id: string, response: Record<string, unknown>): Promise<void> {
    // StackStorm's client sends the id too.
    await this.request('PUT', this.url(`/v1/inquiries/${encodeURIComponent(id)}`), { id, response });
  }

  /**
   * StackStorm's output (`text/plain`, stdout and stderr in the order they
   * were stored), numbered by line: complete lines only, so a line still
   * being written is read whole on the next read.
   */
  private async textOutput(id: string, afterSeq?: number): Promise<OutputChunk[]> {
    const text = this.remote?.transport
      ? (await this.viaTransport(this.remote.transport, 'GET', this.url(`/v1/executions/${encodeURIComponent(id)}/output`), 'text/plain')).text
      : await this.fetchText(id);
    const lines = text.split(/(?<=\n)/).filter((line) => line.endsWith('\n'));
    const now = new Date().toISOString();
    return lines
      .map((data, seq) => ({ execution_id: id, action_ref: '', runner_ref: '', seq, output_type: 'output' as const, data, timestamp: now }))
      .filter((chunk) => afterSeq === undefined || chunk.seq > afterSeq);
  }

  private async fetchText(id: string): Promise<string> {
    let response: Response;
    try {
      response = await fetch(this.url(`/v1/executions/${encodeURIComponent(id)}/output`), {
        credentials: 'omit',
        headers: { Accept: 'text/plain', ...this.authHeaders() },
      });
    } catch (error) {
      throw new BackendError({ code: 'unavailable', faultstring: `cannot reach the engine at ${this.location}: ${String(error)}` });
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      this.refused(error);
      throw error;
    }
    return response.text();
  }

  // Each subscription settles once the shared stream is open, so a load that
  // follows it misses no change (see OpenGate).
  async onExecution(handler: (execution: Execution) => void): Promise<Unsubscribe> {
    return this.subscribe((event) => {
      if (event.kind === 'execution') handler(event.execution);
    });
  }

  async onOutput(handler: (executionId: string, chunk: OutputChunk) => void): Promise<Unsubscribe> {
    return this.subscribe((event) => {
      if (event.kind === 'output') handler(event.executionId, event.chunk);
    });
  }

  async onResync(handler: () => void): Promise<Unsubscribe> {
    return this.subscribe((event) => {
      if (event.kind === 'resync') handler();
    });
  }

  async onLost(handler: (error: BackendError) => void): Promise<Unsubscribe> {
    return this.subscribe((event) => {
      if (event.kind === 'lost') handler(event.error);
    });
  }

  async onAnnouncement(handler: (announcement: Announcement) => void): Promise<Unsubscribe> {
    return this.subscribe((event) => {
      if (event.kind === 'announcement') handler(event.announcement);
    });
  }

  private async subscribe(listener: (event: StreamEvent) => void): Promise<Unsubscribe> {
    const stop = this.stream.subscribe(listener);
    await this.stream.ready();
    return stop;
  }
}

/**
 * A History filter in the query parameters StackStorm's `GET /v1/executions`
 * takes (`st2api/controllers/v1/actionexecutions.py`): top level only is
 * `parent=null`, the start-time bounds are `timestamp_gt`/`timestamp_lt`, and
 * results are left out with `exclude_attributes=result`. Stormdesk's own
 * filters (pack, revision, text) have no counterpart: the views hide them.
 */
export function stackstormFilter(f: ExecutionFilter): Record<string, string | number | undefined> {
  return {
    status: f.status,
    action: f.action,
    parent: f.parent ?? (f.roots_only ? 'null' : undefined),
    timestamp_gt: f.since,
    timestamp_lt: f.until,
    limit: f.limit,
    offset: f.offset,
    exclude_attributes: f.exclude_result ? 'result' : undefined,
  };
}

async function errorFromResponse(response: Response): Promise<BackendError> {
  const text = await response.text().catch(() => '');
  return errorFromText(response.status, response.statusText, text);
}

/** The UI's error for an HTTP error status: the server's `{faultstring, code}`, or one made from the status. */
function errorFromText(status: number, statusText: string, text: string): BackendError {
  try {
    const body: unknown = JSON.parse(text);
    if (isErrorBody(body)) return new BackendError(body);
  } catch {
    // Not JSON: fall through.
  }
  const code = status === 401 || status === 403 ? 'unauthorized' : 'unavailable';
  return new BackendError({ code, faultstring: text || `${status} ${statusText}`.trim() });
}

/**
 * The stream of a remote reached through a {@link RemoteTransport} (the
 * desktop app, which reconnects and resumes itself): one stream shared by
 * every subscriber, opened with the first and closed with the last; a
 * reconnect tells subscribers to resync, as EventStream does.
 */
class TransportEventStream {
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  private close: Unsubscribe | null = null;
  private gate = new OpenGate();

  constructor(
    private readonly transport: RemoteTransport,
    private readonly url: () => string,
    private readonly onError: (error: BackendError) => void,
  ) {}

  subscribe(listener: (event: StreamEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    if (!this.close) {
      const gate = (this.gate = new OpenGate());
      let lostSaid = false;
      this.close = this.transport.events(this.url(), {
        open: (again) => {
          lostSaid = false;
          if (gate.opened() || again) this.dispatch({ kind: 'resync' });
        },
        message: (_id, name, data) => {
          const event = parseStreamEvent(name, data);
          if (event) this.dispatch(event);
        },
        failed: (error) => {
          gate.release();
          this.onError(error);
          if (!lostSaid) this.dispatch({ kind: 'lost', error });
          lostSaid = true;
        },
      });
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.close?.();
        this.close = null;
        this.gate.release();
      }
    };
  }

  /** Settles once the stream is open (see {@link OpenGate}). */
  ready(): Promise<void> {
    return this.gate.ready;
  }

  private dispatch(event: StreamEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** How long the first load waits for the stream to open, in milliseconds. */
const OPEN_WAIT_MS = 5_000;

/**
 * The first opening of a shared stream. A view subscribes, waits for
 * {@link ready}, then loads its records: the engine subscribes a stream
 * client before it answers, so whatever changes after the load arrives as an
 * event, and nothing falls between the two. `ready` also settles when the
 * first attempt fails, the stream is closed, or after {@link OPEN_WAIT_MS},
 * so an engine that does not answer never holds the console; a connection
 * that opens after that tells subscribers to resync, as a reconnect does.
 */
class OpenGate {
  readonly ready: Promise<void>;
  private settled = false;
  private settle: () => void = () => undefined;

  constructor(waitMs = OPEN_WAIT_MS) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
    setTimeout(() => this.release(), waitMs);
  }

  /** A connection opened: true when subscribers must resync (a load may have run without it). */
  opened(): boolean {
    if (this.settled) return true;
    this.release();
    return false;
  }

  /** Lets loads go ahead without the stream; the next opening resyncs. */
  release(): void {
    if (this.settled) return;
    this.settled = true;
    this.settle();
  }
}

/**
 * One SSE connection to `/v1/stream`, shared by every subscriber, opened with
 * the first and closed with the last. Reconnects with backoff and resumes
 * with `Last-Event-ID`. Every reconnect also tells subscribers to resync:
 * the engine ends the stream of a client that falls behind, and a resume
 * point older than its replay window restarts from now.
 */
class EventStream {
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  private abort: AbortController | null = null;
  private lastId: string | undefined;
  private gate = new OpenGate();

  constructor(
    private readonly url: () => string,
    private readonly authHeaders: () => Record<string, string>,
    private readonly credentials: RequestCredentials,
    private readonly onError: (error: BackendError) => void,
  ) {}

  subscribe(listener: (event: StreamEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    if (!this.abort) {
      this.abort = new AbortController();
      this.gate = new OpenGate();
      void this.run(this.abort.signal, this.gate);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.abort?.abort();
        this.abort = null;
        this.gate.release();
      }
    };
  }

  /** Settles once the stream is open (see {@link OpenGate}). */
  ready(): Promise<void> {
    return this.gate.ready;
  }

  private dispatch(event: StreamEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  private async run(signal: AbortSignal, gate: OpenGate): Promise<void> {
    let delay = 500;
    // Said once per outage: an attempt to open failed (not the end of an
    // open stream, which the engine does to a client that fell behind and
    // which is reopened at once).
    let lostSaid = false;
    while (!signal.aborted) {
      let opened = false;
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream', ...this.authHeaders() };
        if (this.lastId !== undefined) headers['Last-Event-ID'] = this.lastId;
        const response = await fetch(this.url(), { headers, signal, credentials: this.credentials }).catch((error: unknown) => {
          if (signal.aborted) throw error;
          throw new BackendError({ code: 'unavailable', faultstring: `cannot reach the engine at ${new URL(this.url(), pageOrigin()).origin}: ${String(error)}` });
        });
        if (!response.ok || !response.body) {
          const error = await errorFromResponse(response);
          this.onError(error);
          throw error;
        }
        opened = true;
        lostSaid = false;
        if (gate.opened()) this.dispatch({ kind: 'resync' });
        delay = 500;
        for await (const message of readSse(response.body)) {
          if (message.id !== undefined) this.lastId = message.id;
          const event = parseStreamEvent(message.event, message.data);
          if (event) this.dispatch(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (!opened && !lostSaid) {
          lostSaid = true;
          this.dispatch({ kind: 'lost', error: BackendError.from(error) });
        }
      }
      gate.release();
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

/** StackStorm's stream event names (`st2stream`). */
const EXECUTION_CREATE = 'st2.execution__create';
const EXECUTION_UPDATE = 'st2.execution__update';
const OUTPUT_CREATE = 'st2.execution.output__create';
/**
 * Stormdesk's own announcement event, `{route, body, execution_id}`: sent
 * only to a stream that names it (StackStorm's `st2.announcement__<route>`
 * carries the body alone, without the execution that announced).
 */
const ANNOUNCEMENT = 'stormdesk.announcement';

/** An event of StackStorm's stream: its name, and the resource as data. */
function parseStreamEvent(name: string, data: string): StreamEvent | null {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return null;
  }
  switch (name) {
    case EXECUTION_CREATE:
    case EXECUTION_UPDATE:
      return { kind: 'execution', execution: payload as Execution };
    case OUTPUT_CREATE: {
      const chunk = payload as OutputChunk;
      return { kind: 'output', executionId: chunk.execution_id, chunk };
    }
    case ANNOUNCEMENT:
      return { kind: 'announcement', announcement: payload as Announcement };
    default:
      return null;
  }
}
