// Where the console's engine is: its own (the desktop app's embedded engine,
// or the `stormdesk serve` that served the page) or a remote server that
// speaks StackStorm's API: a team's `stormdesk serve` or a StackStorm
// cluster. Switched from the title bar; see docs/remote.md.
//
// Credentials are StackStorm's: a token from `POST {auth}/tokens` (HTTP basic
// auth with a username and password) or an API key (`St2-Api-Key`). In a
// browser, connections are remembered in localStorage and a token for this
// tab in sessionStorage; the password stays in memory (to renew the token
// before it expires) and is gone on reload. In the desktop app, connections
// live under the config directory and tokens in the OS keyring (or a 0600
// file where no keyring runs), through the app's commands
// (src-tauri/src/commands/connections.rs), which also sign in and renew,
// and tell the page who is signed in and until when, never the token or
// API key: the app adds them to the window's requests itself
// (lib/remote-transport.ts).

import { invoke } from '@tauri-apps/api/core';

import { STACKSTORM, STORMDESK, type Capabilities } from './backend';
import { readPref, writePref } from './prefs';

/** A remote server. URLs as StackStorm's clients take them (`ST2_API_URL`, ...). */
export interface Connection {
  id: string;
  name: string;
  /** The API: `https://host/api/v1` (StackStorm behind nginx) or `https://host:port/v1` (`stormdesk serve`). */
  api_url: string;
  /** `POST {auth_url}/tokens`; derived from `api_url` when empty. */
  auth_url?: string | null;
  /** `{stream_url}/stream`; derived from `api_url` when empty. */
  stream_url?: string | null;
  /** A PEM CA certificate for a server whose certificate no system CA signs (desktop app). */
  ca_cert?: string | null;
}

/** What a remote accepts from us: a token (with its expiry) or an API key. */
export interface Credentials {
  user?: string | null;
  token?: string | null;
  /** RFC 3339. */
  expiry?: string | null;
  api_key?: string | null;
}

export const LOCAL = 'local';
const ACTIVE = 'stormdesk.connection';
const CONNECTIONS = 'stormdesk.connections';
const TOKENS = 'stormdesk.tokens';

/** The API, auth and stream URLs of a connection (no trailing slash). */
export function endpoints(c: Connection): { api: string; auth: string; stream: string } {
  const api = c.api_url.trim().replace(/\/+$/, '');
  const stackstorm = /\/api\/v1$/.test(api);
  const root = api.replace(/\/api\/v1$|\/v1$/, '');
  const auth = (c.auth_url ?? '').trim().replace(/\/+$/, '') || `${root}/auth/v1`;
  const stream = (c.stream_url ?? '').trim().replace(/\/+$/, '') || (stackstorm ? `${root}/stream/v1` : api);
  return { api, auth, stream };
}

/** Checks a connection's fields; the message names the field and what to do. */
export function validate(c: Connection): string | null {
  if (!c.name.trim()) return 'Name: give the connection a name.';
  for (const [field, value] of [
    ['API URL', c.api_url],
    ['Auth URL', c.auth_url],
    ['Stream URL', c.stream_url],
  ] as const) {
    if (!value) {
      if (field === 'API URL') return 'API URL: the server\'s API, e.g. https://stormdesk.example:9443/v1 or https://st2.example/api/v1.';
      continue;
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `${field}: "${value}" is not a URL (https://host[:port]/path).`;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${field}: use https:// (or http:// on a trusted network).`;
  }
  return null;
}

/** The connection in use: `local`, or a remote's id. */
export function activeConnection(): string {
  return readPref(ACTIVE) ?? LOCAL;
}

export function setActiveConnection(id: string): void {
  writePref(ACTIVE, id);
}

/** Where connections and credentials are kept. */
export interface ConnectionStore {
  list(): Promise<Connection[]>;
  save(c: Connection): Promise<Connection>;
  remove(id: string): Promise<void>;
  /** Credentials kept for a connection (null when none, or expired). */
  credentials(c: Connection): Promise<Credentials | null>;
  /** `POST {auth}/tokens` with basic auth; keeps the token (and what renews it). */
  signIn(c: Connection, user: string, password: string): Promise<Credentials>;
  /** Keeps an API key, after checking it against `GET {api}/user`... by the caller. */
  useApiKey(c: Connection, key: string): Promise<Credentials>;
  /** A fresh token before the current one expires; null when it cannot (sign in again). */
  renew(c: Connection): Promise<Credentials | null>;
  signOut(c: Connection): Promise<void>;
}

export class RemoteError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'refused' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** `POST {auth}/tokens` from the page (browser). */
export async function requestToken(c: Connection, user: string, password: string): Promise<Credentials> {
  const { auth } = endpoints(c);
  let response: Response;
  try {
    response = await fetch(`${auth}/tokens`, {
      method: 'POST',
      credentials: 'omit',
      headers: { Authorization: `Basic ${btoa(unescape(encodeURIComponent(`${user}:${password}`)))}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: '{}',
    });
  } catch (error) {
    throw new RemoteError('unreachable', `cannot reach ${c.name} at ${auth}: ${String(error)} (is the server up, its certificate trusted, and this console's origin in its --allow-origin / allow_origin?)`);
  }
  const text = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw new RemoteError('refused', `${c.name} refused the credentials: ${faultstring(text) ?? response.statusText}`);
  }
  if (!response.ok) throw new RemoteError('unreachable', `${c.name}: ${response.status} ${faultstring(text) ?? response.statusText}`);
  const token = JSON.parse(text) as { token: string; expiry: string; user: string };
  return { user: token.user, token: token.token, expiry: token.expiry };
}

function faultstring(text: string): string | null {
  try {
    const body = JSON.parse(text) as { faultstring?: string };
    return body.faultstring ?? null;
  } catch {
    return text || null;
  }
}

function readJson<T>(storage: Storage | undefined, key: string, fallback: T): T {
  try {
    const text = storage?.getItem(key);
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function writeJson(storage: Storage | undefined, key: string, value: unknown): void {
  try {
    storage?.setItem(key, JSON.stringify(value));
  } catch {
    // Storage disabled: this page only.
  }
}

function expired(c: Credentials | null | undefined, now = Date.now()): boolean {
  return !!c?.expiry && Date.parse(c.expiry) <= now;
}

/** The browser's store: localStorage for connections, sessionStorage for tokens, memory for passwords. */
export class BrowserConnectionStore implements ConnectionStore {
  private readonly passwords = new Map<string, [string, string]>();

  async list(): Promise<Connection[]> {
    return readJson<Connection[]>(localStorage, CONNECTIONS, []);
  }

  async save(c: Connection): Promise<Connection> {
    const saved = { ...c, id: c.id || crypto.randomUUID() };
    const all = (await this.list()).filter((x) => x.id !== saved.id);
    writeJson(localStorage, CONNECTIONS, [...all, saved]);
    return saved;
  }

  async remove(id: string): Promise<void> {
    writeJson(localStorage, CONNECTIONS, (await this.list()).filter((x) => x.id !== id));
    await this.signOut({ id } as Connection);
  }

  async credentials(c: Connection): Promise<Credentials | null> {
    const all = readJson<Record<string, Credentials>>(sessionStorage, TOKENS, {});
    const found = all[c.id] ?? null;
    return found && !expired(found) ? found : null;
  }

  private keep(c: Connection, creds: Credentials): Credentials {
    const all = readJson<Record<string, Credentials>>(sessionStorage, TOKENS, {});
    all[c.id] = creds;
    writeJson(sessionStorage, TOKENS, all);
    return creds;
  }

  async signIn(c: Connection, user: string, password: string): Promise<Credentials> {
    const creds = await requestToken(c, user, password);
    this.passwords.set(c.id, [user, password]);
    return this.keep(c, creds);
  }

  async useApiKey(c: Connection, key: string): Promise<Credentials> {
    return this.keep(c, { api_key: key });
  }

  async renew(c: Connection): Promise<Credentials | null> {
    const remembered = this.passwords.get(c.id);
    if (!remembered) return null;
    return this.keep(c, await requestToken(c, remembered[0], remembered[1]));
  }

  async signOut(c: Connection): Promise<void> {
    this.passwords.delete(c.id);
    const all = readJson<Record<string, Credentials>>(sessionStorage, TOKENS, {});
    delete all[c.id];
    writeJson(sessionStorage, TOKENS, all);
  }
}

/** The desktop app's store: its commands (config directory, keyring). */
export class TauriConnectionStore implements ConnectionStore {
  private async call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await invoke<T>(cmd, args);
    } catch (error) {
      const body = error as { code?: string; faultstring?: string };
      const message = body?.faultstring ?? String(error);
      throw new RemoteError(body?.code === 'unauthorized' ? 'refused' : body?.code === 'invalid_input' ? 'invalid' : 'unreachable', message);
    }
  }

  list(): Promise<Connection[]> {
    return this.call('list_connections');
  }

  save(c: Connection): Promise<Connection> {
    return this.call('save_connection', { connection: c });
  }

  remove(id: string): Promise<void> {
    return this.call('remove_connection', { id });
  }

  credentials(c: Connection): Promise<Credentials | null> {
    return this.call('connection_credentials', { id: c.id });
  }

  signIn(c: Connection, user: string, password: string): Promise<Credentials> {
    return this.call('connection_sign_in', { id: c.id, user, password });
  }

  useApiKey(c: Connection, key: string): Promise<Credentials> {
    return this.call('connection_use_api_key', { id: c.id, apiKey: key });
  }

  renew(c: Connection): Promise<Credentials | null> {
    return this.call('connection_renew', { id: c.id });
  }

  signOut(c: Connection): Promise<void> {
    return this.call('connection_sign_out', { id: c.id });
  }
}

/**
 * When to renew a token that expires at `expiry` (milliseconds from `now`):
 * when a fifth of the time it has left now remains, and at least five minutes
 * before it expires (as the desktop app's `needs_renewal`).
 */
export function renewalDelay(expiry: string, now = Date.now()): number {
  const left = Date.parse(expiry) - now;
  return Math.max(0, left - Math.max(300_000, left / 5));
}

/**
 * What remote `api` offers beyond StackStorm's API, asked within that API:
 * `GET {api}/packs/core` (StackStorm's `/v1/packs/{ref_or_id}`; every
 * StackStorm and every Stormdesk has the `core` pack). A Stormdesk server
 * describes a pack with its own fields too (`actions`, the count that can
 * run, and `unsupported`; `x-stormdesk` in docs/openapi.yaml); StackStorm
 * does not. Anything else (an error, no answer) counts as StackStorm: what
 * it cannot do is hidden rather than broken. The one place the console
 * tells the two apart.
 */
export async function probeCapabilities(
  api: string,
  get: (url: string) => Promise<{ status: number; body: string }>,
): Promise<Capabilities> {
  try {
    const response = await get(`${api}/packs/core`);
    if (response.status < 200 || response.status >= 300) return STACKSTORM;
    const pack = JSON.parse(response.body) as { actions?: unknown; unsupported?: unknown };
    return typeof pack.actions === 'number' && Array.isArray(pack.unsupported) ? STORMDESK : STACKSTORM;
  } catch {
    return STACKSTORM;
  }
}
