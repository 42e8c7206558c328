// The title bar's connection switcher, the dialog that adds and removes
// remote servers, and the screens shown instead of the console when a remote
// needs credentials, refuses them or cannot be reached. See lib/connections.ts.

import { BackendError, isTauri, type RemoteTarget, type RemoteTransport } from '../lib/backend';
import {
  activeConnection,
  endpoints,
  LOCAL,
  probeCapabilities,
  RemoteError,
  renewalDelay,
  setActiveConnection,
  validate,
  type Connection,
  type ConnectionStore,
  type Credentials,
} from '../lib/connections';
import { TauriRemoteTransport } from '../lib/remote-transport';
import { h } from './dom';

/** Switching reloads the page: every view starts again against the new server. */
function switchTo(id: string): void {
  setActiveConnection(id);
  window.location.hash = '#/';
  window.location.reload();
}

/** The `<select>` in the title bar: this engine, each remote, and "Manage…". */
export function connectionSwitcher(store: ConnectionStore, connections: Connection[], localLabel: string): HTMLElement {
  const active = activeConnection();
  const select = h(
    'select',
    { id: 'connection', class: 'connection-select', 'aria-label': 'Connection', title: 'Which engine this console drives' },
    h('option', { value: LOCAL, selected: active === LOCAL }, `This engine (${localLabel})`),
    connections.map((c) => h('option', { value: c.id, selected: active === c.id }, c.name)),
    h('option', { value: '__manage' }, 'Manage connections…'),
  );
  const dialog = manageDialog(store, connections);
  select.addEventListener('change', () => {
    if (select.value === '__manage') {
      select.value = active;
      dialog.showModal();
      return;
    }
    switchTo(select.value);
  });
  return h('span', { class: 'connection' }, select, dialog);
}

function field(id: string, label: string, input: HTMLElement, help?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, help ? h('small', { class: 'help' }, help) : null);
}

/** Add a remote (name, URLs, CA certificate) or remove one. */
function manageDialog(store: ConnectionStore, connections: Connection[]): HTMLDialogElement {
  const name = h('input', { id: 'conn-name', required: true, placeholder: 'team server' });
  const api = h('input', { id: 'conn-api', required: true, placeholder: 'https://stormdesk.example:9443/v1' });
  const auth = h('input', { id: 'conn-auth', placeholder: 'derived from the API URL' });
  const stream = h('input', { id: 'conn-stream', placeholder: 'derived from the API URL' });
  const ca = h('textarea', { id: 'conn-ca', rows: 3, placeholder: '-----BEGIN CERTIFICATE-----' });
  const problem = h('p', { class: 'error', role: 'alert', hidden: true });
  const list = h(
    'ul',
    { class: 'connection-list' },
    connections.map((c) =>
      h(
        'li',
        { 'data-id': c.id },
        h('strong', {}, c.name),
        ' ',
        h('code', {}, endpoints(c).api),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onClick: () => {
              void store.remove(c.id).then(() => (activeConnection() === c.id ? switchTo(LOCAL) : window.location.reload()));
            },
          },
          'Remove',
        ),
      ),
    ),
  );
  const form = h(
    'form',
    {
      class: 'connection-form',
      'aria-label': 'Add a connection',
      onSubmit: (event: Event) => {
        event.preventDefault();
        const c: Connection = {
          id: '',
          name: name.value.trim(),
          api_url: api.value.trim(),
          auth_url: auth.value.trim() || null,
          stream_url: stream.value.trim() || null,
          ca_cert: ca.value.trim() || null,
        };
        const wrong = validate(c);
        if (wrong) {
          problem.textContent = wrong;
          problem.hidden = false;
          return;
        }
        store.save(c).then(
          (saved) => switchTo(saved.id),
          (error: unknown) => {
            problem.textContent = error instanceof Error ? error.message : String(error);
            problem.hidden = false;
          },
        );
      },
    },
    h('h3', {}, 'Add a server'),
    problem,
    field('conn-name', 'Name', name),
    field('conn-api', 'API URL', api, 'A team\'s stormdesk serve (https://host:port/v1) or a StackStorm cluster (https://host/api/v1).'),
    field('conn-auth', 'Auth URL (optional)', auth),
    field('conn-stream', 'Stream URL (optional)', stream),
    isTauri() ? field('conn-ca', 'CA certificate (optional, PEM)', ca, 'A CA that signed this server\'s certificate, trusted for everything the app sends it, besides the system\'s CAs.') : null,
    isTauri()
      ? h('p', { class: 'help' }, 'The app sends every request to the server itself: its certificate must be signed by a CA of the system or the one above.')
      : h(
          'p',
          { class: 'help' },
          'The server must list this console\'s origin (',
          h('code', {}, window.location.origin),
          ') in --allow-origin (StackStorm: [api] allow_origin), and its certificate must be trusted here.',
        ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add and connect')),
  );
  return h(
    'dialog',
    { class: 'help-dialog connections-dialog', 'aria-label': 'Connections' },
    h('h2', {}, 'Connections'),
    connections.length ? list : h('p', {}, 'No remote servers yet.'),
    form,
    h('form', { method: 'dialog', class: 'actions' }, h('button', { type: 'submit' }, 'Close')),
  );
}

/**
 * The screen for a remote that needs credentials (none yet, or it refused
 * them: `problem`): username and password, or an API key. `done` runs once
 * signed in (by default the page reloads; the first connection starts the
 * console in place, so a browser keeps the password in memory to renew the token).
 */
export function signInScreen(store: ConnectionStore, c: Connection, problem: string | null, done: () => void = () => window.location.reload()): HTMLElement {
  const user = h('input', { id: 'remote-user', autocomplete: 'username' });
  const password = h('input', { id: 'remote-password', type: 'password', autocomplete: 'current-password' });
  const apiKey = h('input', { id: 'remote-api-key', type: 'password', autocomplete: 'off' });
  const message = h('p', { class: 'error', role: 'alert', hidden: !problem }, problem ?? '');
  const fail = (error: unknown): void => {
    message.textContent = error instanceof Error ? error.message : String(error);
    message.hidden = false;
  };
  const form = h(
    'form',
    {
      class: 'connect',
      'aria-label': `Sign in to ${c.name}`,
      onSubmit: (event: Event) => {
        event.preventDefault();
        message.hidden = true;
        if (apiKey.value.trim()) store.useApiKey(c, apiKey.value.trim()).then(done, fail);
        else if (user.value.trim() && password.value) store.signIn(c, user.value.trim(), password.value).then(done, fail);
        else fail(new Error('Give a username and password, or an API key.'));
      },
    },
    h('h1', {}, `Sign in to ${c.name}`),
    h('p', {}, 'Server: ', h('code', {}, endpoints(c).api)),
    message,
    field('remote-user', 'Username', user),
    field('remote-password', 'Password', password, 'Sent once to the server\'s auth URL for a token; the token is renewed before it expires.'),
    field('remote-api-key', 'or an API key', apiKey),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
      h('button', { type: 'button', onClick: () => switchTo(LOCAL) }, 'Use this engine'),
    ),
  );
  return form;
}

/** The screen for a remote that cannot be reached. */
export function unreachableScreen(c: Connection, message: string): HTMLElement {
  return h(
    'div',
    { class: 'connect', role: 'alert', 'aria-label': `Cannot reach ${c.name}` },
    h('h1', {}, `Cannot reach ${c.name}`),
    h('p', { class: 'error' }, message),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onClick: () => window.location.reload() }, 'Retry'),
      h('button', { type: 'button', onClick: () => switchTo(LOCAL) }, 'Use this engine'),
    ),
  );
}

function headersFor(creds: Credentials): Record<string, string> {
  if (creds.api_key) return { 'St2-Api-Key': creds.api_key };
  if (creds.token) return { 'X-Auth-Token': creds.token };
  return {};
}

/**
 * GET with the credentials: the status, or an error when the server cannot
 * be reached. In the desktop app through its transport (the connection's CA
 * certificate, the credentials added by the app).
 */
async function probe(url: string, headers: Record<string, string>, name: string, transport?: RemoteTransport): Promise<{ status: number; body: string }> {
  if (transport) {
    try {
      const answer = await transport.request('GET', url, 'application/json');
      return { status: answer.status, body: answer.text };
    } catch (error) {
      throw new RemoteError('unreachable', error instanceof Error ? error.message : String(error));
    }
  }
  try {
    const response = await fetch(url, { credentials: 'omit', headers: { Accept: 'application/json', ...headers } });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    throw new RemoteError(
      'unreachable',
      `${name} did not answer at ${url}: ${String(error)}. Check that the server is up, that its certificate is trusted here, and that it lets this console's origin (${window.location.origin}) in (stormdesk serve --allow-origin; StackStorm: [api] allow_origin).`,
    );
  }
}

/**
 * Connects to remote `c`: checks the credentials (`GET {api}/user`), probes
 * Stormdesk-only endpoints, and keeps the token renewed. Returns the target
 * for the backend, or the screen to show instead.
 */
export async function connectRemote(
  store: ConnectionStore,
  c: Connection,
  onRefused: (e: BackendError) => void,
  signedIn: () => void,
): Promise<RemoteTarget | HTMLElement> {
  let creds = await store.credentials(c).catch(() => null);
  if (!creds) return signInScreen(store, c, null, signedIn);
  const { api, stream } = endpoints(c);
  const transport = isTauri() ? new TauriRemoteTransport(c.id) : undefined;
  let user: { status: number; body: string };
  try {
    user = await probe(`${api}/user`, headersFor(creds), c.name, transport);
  } catch (error) {
    return unreachableScreen(c, error instanceof Error ? error.message : String(error));
  }
  if (user.status === 401 || user.status === 403) {
    await store.signOut(c).catch(() => undefined);
    let said = user.body;
    try {
      said = (JSON.parse(user.body) as { faultstring?: string }).faultstring ?? said;
    } catch {
      // Not JSON.
    }
    return signInScreen(store, c, `${c.name} refused the credentials: ${said}`, signedIn);
  }
  if (user.status >= 400) return unreachableScreen(c, `${c.name} answered ${user.status} at ${api}/user: ${user.body}`);
  const target: RemoteTarget = {
    name: c.name,
    api,
    stream,
    headers: () => headersFor(creds ?? {}),
    capabilities: await probeCapabilities(api, (url) => probe(url, headersFor(creds ?? {}), c.name, transport)),
    onRefused,
    transport,
  };
  const schedule = (current: Credentials): void => {
    if (!current.expiry) return;
    window.setTimeout(() => {
      store.renew(c).then(
        (fresh) => {
          if (fresh) {
            creds = fresh;
            schedule(fresh);
          }
        },
        () => undefined,
      );
    }, renewalDelay(current.expiry));
  };
  schedule(creds);
  return target;
}
