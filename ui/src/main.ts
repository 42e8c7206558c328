// Stormdesk's web UI: the same page runs in the desktop app (Tauri IPC) and in
// a browser against `stormdesk serve` (HTTP API); see lib/backend.ts.
//
// Screens (the address's `#` part keeps the place, so reload, back and a
// new tab work): `#/` the start screen (running and recent runs);
// `#/action/<ref>` the catalogue and an action's form, with the run below;
// `#/execution/<id>` one execution; `#/history?<filters>` every execution;
// `#/packs` the packs; `#/inquiries` the questions workflows wait on.

import './styles.css';

import { AnnouncementLog } from './lib/announcements';
import { BackendError, createBackend, isTauri, sessionInfo, signIn, signInFromPage, type Backend, type RemoteTarget } from './lib/backend';
import { activeConnection, BrowserConnectionStore, LOCAL, TauriConnectionStore, type ConnectionStore } from './lib/connections';
import { ExecutionCache } from './lib/executions';
import { InquiryTracker } from './lib/inquiries';
import { AnnouncementNotifier, askPermission, CompletionNotifier, InquiryNotifier } from './lib/notify';
import { OutputHub } from './lib/output-hub';
import { applyTheme, effectiveTheme, nextTheme, notifySettings, saveNotifySettings, themeChoice } from './lib/prefs';
import { actionRef, contentVersion, isCompleted, type ActionSummary, type Execution } from './lib/types';
import { actionView } from './ui/action-view';
import { announcementsView } from './ui/announcements-view';
import { catalogView } from './ui/catalog';
import { connectionSwitcher, connectRemote, signInScreen } from './ui/connections-view';
import { h } from './ui/dom';
import { executionView } from './ui/execution-view';
import { historyView } from './ui/history-view';
import { homeView } from './ui/home-view';
import { icon, installIcons } from './ui/icons';
import { inquiriesView } from './ui/inquiries-view';
import { packsView } from './ui/packs-view';

type Route =
  | { view: 'home' }
  | { view: 'action'; ref: string }
  | { view: 'execution'; id: string }
  | { view: 'inquiries' }
  | { view: 'history'; query: string }
  | { view: 'packs'; pack: string | null };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [path = '', query = ''] = raw.split('?', 2);
  const [, view, ...rest] = path.split('/');
  const arg = rest.length > 0 && rest.join('/') !== '' ? decodeURIComponent(rest.join('/')) : null;
  if (view === 'history') return { view: 'history', query };
  if (view === 'packs') return { view: 'packs', pack: arg };
  if (view === 'inquiries') return { view: 'inquiries' };
  if (view === 'execution' && arg) return { view: 'execution', id: arg };
  if (view === 'action' && arg) return { view: 'action', ref: arg };
  return { view: 'home' };
}

export const SHORTCUTS: [string, string][] = [
  ['/', 'Search (actions, or executions in History)'],
  ['↑ ↓ Enter', 'Move through actions, history rows or tree nodes; open'],
  ['← →', 'Collapse / expand a tree node or a history row'],
  ['Ctrl+Enter', 'Run the form'],
  ['r', 'Re-run the execution shown (form filled in, editable)'],
  ['c', 'Cancel the execution shown'],
  ['p', 'Pause / resume the workflow shown'],
  ['g a', 'Actions: running and recent runs'],
  ['g h', 'History'],
  ['g p', 'Packs'],
  ['g i', 'Inquiries: questions workflows wait on'],
  ['t', 'Switch theme (system, dark, light)'],
  ['Esc', 'Close the dialog, leave the field'],
  ['?', 'This help'],
];

let pageStore: ConnectionStore | null = null;

async function start(root: HTMLElement): Promise<void> {
  applyTheme(themeChoice());
  installIcons();
  const unsubscribe: (() => void)[] = [];
  // The connection chosen in the title bar: this engine, or a remote server.
  // One store for the page's life: a browser's keeps the password in memory.
  const store: ConnectionStore = (pageStore ??= isTauri() ? new TauriConnectionStore() : new BrowserConnectionStore());
  const connections = await store.list().catch(() => []);
  const chosen = activeConnection();
  const remoteConnection = chosen === LOCAL ? null : (connections.find((c) => c.id === chosen) ?? null);
  let remote: RemoteTarget | null = null;
  if (remoteConnection) {
    let refused = false;
    const connected = await connectRemote(store, remoteConnection, (error) => {
      // The server refused the credentials mid-session (expired, revoked).
      if (refused) return;
      refused = true;
      unsubscribe.forEach((stop) => stop());
      void store.signOut(remoteConnection).catch(() => undefined);
      root.replaceChildren(signInScreen(store, remoteConnection, `${remoteConnection.name} refused the credentials: ${error.message}`));
    }, () => {
      // Nothing is installed yet: start again in place (a reload would lose
      // the password a browser keeps in memory to renew the token).
      root.replaceChildren();
      void start(root);
    });
    if (connected instanceof HTMLElement) {
      root.replaceChildren(connected);
      return;
    }
    remote = connected;
  }
  const backend = createBackend(remote);
  if (backend.transport === 'http' && !remote) await signInFromPage();
  const banner = h('p', { class: 'banner error', role: 'alert', hidden: true });
  /** Says the engine's event stream is cut off (the views may be out of date) until it is back. */
  const lostBanner = h('p', { class: 'banner error lost', role: 'alert', hidden: true });
  const notifier = new CompletionNotifier();
  const hub = new OutputHub(backend);
  const cache = new ExecutionCache();
  const tracker = new InquiryTracker(backend);
  const asked = new InquiryNotifier();
  tracker.onNew((entry) => asked.asked(entry.id, entry.execution));
  const announcements = new AnnouncementLog();
  const announced = new AnnouncementNotifier();
  announcements.onAdd((a) => announced.announced(a));
  const announcementsUi = announcementsView(announcements);
  announcementsUi.button.addEventListener('click', () => void askPermission());

  let selectToken = 0;
  /** The action screen shows a load failure (it loads again when the engine is back). */
  let actionFailed = false;
  const failAction = (error: unknown): void => {
    actionFailed = true;
    action.failed(error);
  };
  let actions: ActionSummary[] = [];
  const execution = executionView(backend, hub, cache, (e) => void openReRun(e));
  const action = actionView(backend, (started) => {
    void askPermission();
    showRun(started);
  });
  const history = historyView(backend, cache, (hash) => {
    lastHistory = hash;
    shownRoute = hash;
  });
  const home = homeView(backend, cache, history.schemas);
  const packs = packsView(backend, hub, cache, () => {
    action.packsChanged();
    void load();
  });
  const catalog = catalogView((summary) => go(`#/action/${summary.ref}`));
  const inquiries = inquiriesView(backend, tracker);

  const runTab = h('a', { href: '#/', class: 'tab', 'data-view': 'home' }, 'Actions');
  const historyTab = h('a', { href: '#/history', class: 'tab', 'data-view': 'history' }, 'History');
  const packsTab = h('a', { href: '#/packs', class: 'tab', 'data-view': 'packs' }, 'Packs');
  const themeButton = h('button', { type: 'button', class: 'icon-button', id: 'theme-toggle', title: 'Theme (t)' });
  const helpButton = h('button', { type: 'button', class: 'icon-button', title: 'Keyboard shortcuts (?)', 'aria-label': 'Help' }, '?');
  const help = helpDialog();
  const content = h('main', { class: 'content' }, home.element, action.element, execution.element, history.element, packs.element, inquiries.element);
  const layout = h('div', { class: 'layout' }, catalog.element, content);

  function drawTheme(): void {
    const choice = themeChoice();
    themeButton.replaceChildren(icon(effectiveTheme() === 'dark' ? 'moon' : 'sun'));
    themeButton.setAttribute('aria-label', `Theme: ${choice}${choice === 'system' ? ` (${effectiveTheme()})` : ''}`);
    themeButton.dataset['theme'] = choice;
  }
  function toggleTheme(): void {
    applyTheme(nextTheme());
    drawTheme();
  }
  themeButton.addEventListener('click', toggleTheme);
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', drawTheme);
  drawTheme();
  helpButton.addEventListener('click', () => help.showModal());

  root.append(
    h(
      'header',
      { class: 'topbar' },
      h('span', { class: 'brand' }, logo(), 'Stormdesk'),
      h('nav', { class: 'tabs', 'aria-label': 'Screens' }, runTab, historyTab, packsTab, inquiries.tab),
      h(
        'span',
        { class: 'topbar-end' },
        h('span', { class: 'transport', title: 'Engine' }, remote ? remote.api : backend.transport === 'tauri' ? 'desktop' : backend.location),
        backend.capabilities.announcements ? announcementsUi.button : null,
        connectionSwitcher(store, connections, isTauri() ? 'desktop' : window.location.host),
        themeButton,
        helpButton,
      ),
    ),
    banner,
    lostBanner,
    announcementsUi.overlay,
    layout,
    help,
  );

  function go(hash: string): void {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  }

  /** A run started from the form: shown below it, and the address names it. */
  function showRun(started: Execution): void {
    execution.setBack(null);
    execution.follow(started);
    notifier.observe(cache.get(started.id) ?? started);
    const hash = `#/execution/${started.id}`;
    window.history.replaceState(window.history.state, '', hash);
    shownRoute = hash;
    markTabs('action');
  }

  async function openReRun(e: Execution): Promise<void> {
    const token = ++selectToken;
    actionFailed = false;
    action.loading(actionRef(e));
    show('action');
    try {
      const detail = await backend.getAction(actionRef(e), contentVersion(e) ?? undefined);
      if (token === selectToken) {
        catalog.select(actionRef(e));
        action.show(detail, e, actions.find((a) => a.ref === detail.ref));
        action.element.scrollIntoView({ block: 'nearest' });
      }
    } catch (error) {
      if (token === selectToken) failAction(error);
    }
  }

  /** `action` and `home` are the Actions tab. */
  function markTabs(view: string): void {
    const tabView = view === 'action' ? 'home' : view;
    for (const tab of [runTab, historyTab, packsTab, inquiries.tab]) tab.classList.toggle('active', tab.dataset['view'] === tabView);
  }

  /** Shows one screen (`execution` may stay below the action form). */
  function show(view: 'home' | 'action' | 'execution' | 'history' | 'packs' | 'inquiries', keepRun = false): void {
    home.element.hidden = view !== 'home';
    action.element.hidden = view !== 'action';
    history.element.hidden = view !== 'history';
    packs.element.hidden = view !== 'packs';
    inquiries.element.hidden = view !== 'inquiries';
    if (view !== 'execution' && !(view === 'action' && keepRun)) execution.element.hidden = true;
    layout.classList.toggle('execution-only', view === 'execution');
    layout.classList.toggle('wide', view === 'history' || view === 'packs' || view === 'inquiries');
  }

  /** The last History address (with its filters): where an execution opened from there goes back to. */
  let lastHistory = '#/history';
  let shownRoute: string | null = null;
  function route(): void {
    const hash = window.location.hash || '#/';
    if (hash === shownRoute) return;
    const previous = shownRoute;
    shownRoute = hash;
    const r = parseRoute(hash);
    if (r.view === 'history') {
      lastHistory = hash;
      markTabs('history');
      show('history');
      history.load(r.query);
    } else if (r.view === 'execution') {
      const fromHistory = previous !== null && parseRoute(previous).view === 'history';
      markTabs(fromHistory ? 'history' : 'home');
      show('execution');
      execution.setBack(fromHistory ? lastHistory : null);
      if (execution.current?.id !== r.id) void execution.open(r.id);
      else execution.element.hidden = false;
    } else if (r.view === 'inquiries') {
      markTabs('inquiries');
      show('inquiries');
      void askPermission();
      void loadInquiries();
    } else if (r.view === 'packs') {
      markTabs('packs');
      show('packs');
      packs.load(r.pack);
    } else if (r.view === 'action') {
      markTabs('action');
      show('action');
      const token = ++selectToken;
      const ref = r.ref;
      catalog.select(ref);
      actionFailed = false;
      action.loading(ref);
      backend.getAction(ref).then(
        (detail) => {
          if (token === selectToken) action.show(detail, undefined, actions.find((a) => a.ref === ref));
        },
        (error: unknown) => {
          if (token === selectToken) failAction(error);
        },
      );
    } else {
      markTabs('home');
      show('home');
      catalog.select(null);
      home.load();
    }
  }

  async function loadInquiries(): Promise<void> {
    try {
      await tracker.load();
    } catch {
      // The banner (from the catalogue's load) says when the engine is unreachable.
    }
  }

  async function load(): Promise<void> {
    try {
      const [packList, actionList] = await Promise.all([backend.listPacks(), backend.listActions()]);
      actions = actionList;
      catalog.show(packList, actionList);
      history.setCatalog(packList, actionList);
      packs.setPacks(packList);
      banner.hidden = true;
    } catch (error) {
      const e = BackendError.from(error);
      if (backend.transport === 'http' && !remote && e.code === 'unauthorized') {
        unsubscribe.forEach((stop) => stop());
        root.replaceChildren(await signInPage());
        return;
      }
      banner.textContent = e.message;
      banner.hidden = false;
    }
  }

  // Subscribe before the first load so no change falls between the two.
  unsubscribe.push(
    await backend.onExecution((changed) => {
      hub.observe(changed);
      const newest = cache.put(changed);
      notifier.observe(newest);
      tracker.observe(newest);
      if (isCompleted(newest.status)) hub.completed(newest.id);
      execution.update(newest);
      if (!history.element.hidden) history.update(newest);
      if (!home.element.hidden) home.update(newest);
      if (!packs.element.hidden) packs.update(newest);
    }),
  );
  unsubscribe.push(await backend.onOutput((_id, chunk) => hub.live(chunk)));
  unsubscribe.push(await backend.onAnnouncement((a) => announcements.add(a)));
  unsubscribe.push(
    await backend.onLost((error) => {
      lostBanner.textContent = `Lost the engine: ${error.message}. Reconnecting by itself; what is shown may be out of date.`;
      lostBanner.hidden = false;
    }),
  );
  unsubscribe.push(
    await backend.onResync(() => {
      lostBanner.hidden = true;
      // A screen that could not load (the engine was away) loads again.
      if (actionFailed && !action.element.hidden) {
        shownRoute = null;
        route();
      }
      hub.resync();
      void load();
      void loadInquiries();
      execution.refresh();
      if (!history.element.hidden) history.reload();
      if (!home.element.hidden) home.load();
    }),
  );
  window.addEventListener('hashchange', route);
  installShortcuts({
    search: () => (history.element.hidden ? catalog.focusSearch() : history.focusSearch()),
    reRun: () => execution.reRun(),
    cancel: () => execution.cancel(),
    pause: () => execution.togglePause(),
    theme: toggleTheme,
    help: () => (help.open ? help.close() : help.showModal()),
    go: (key) => {
      const target: Record<string, string> = { a: '#/', h: lastHistory, p: '#/packs', i: '#/inquiries' };
      if (target[key]) go(target[key] as string);
    },
  });
  const loading = load();
  // A run opens from its own records: it does not wait for the catalogue.
  if (parseRoute(window.location.hash || '#/').view === 'execution') route();
  await loading;
  if (!root.contains(layout)) return;
  route();
  void loadInquiries();
  exposeForTests(backend, notifier, hub, cache, { tracker, asked }, { log: announcements, notifier: announced });
}

interface ShortcutActions {
  search(): void;
  reRun(): void;
  cancel(): void;
  pause(): void;
  theme(): void;
  help(): void;
  /** `g` then a key. */
  go(key: string): void;
}

function installShortcuts(actions: ShortcutActions): void {
  let pendingG = false;
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target as HTMLElement | null;
    const typing = !!target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.key === 'Escape') {
      if (typing) target?.blur();
      return;
    }
    if (typing) return;
    if (pendingG) {
      pendingG = false;
      actions.go(event.key);
      event.preventDefault();
      return;
    }
    const handlers: Record<string, () => void> = {
      '/': actions.search,
      r: actions.reRun,
      c: actions.cancel,
      p: actions.pause,
      t: actions.theme,
      '?': actions.help,
      g: () => {
        pendingG = true;
      },
    };
    const handler = handlers[event.key];
    if (handler) {
      event.preventDefault();
      handler();
    }
  });
}

function helpDialog(): HTMLDialogElement {
  const settings = notifySettings();
  const enabled = h('input', { type: 'checkbox', id: 'notify-enabled', checked: settings.enabled });
  const after = h('input', { type: 'number', id: 'notify-after', min: 1, step: 1, value: String(settings.afterSeconds), class: 'narrow' });
  const save = (): void => saveNotifySettings({ enabled: enabled.checked, afterSeconds: Math.max(1, Number(after.value) || 10) });
  enabled.addEventListener('change', save);
  after.addEventListener('change', save);
  const dialog = h(
    'dialog',
    { class: 'help-dialog', 'aria-label': 'Keyboard shortcuts' },
    h('h2', {}, 'Keyboard shortcuts'),
    h('table', { class: 'kv shortcuts' }, SHORTCUTS.map(([key, what]) => h('tr', {}, h('th', {}, h('kbd', {}, key)), h('td', {}, what)))),
    h('h2', {}, 'Notifications'),
    h('p', { class: 'inline' }, enabled, h('label', { for: 'notify-enabled' }, ' Notify when a run that took longer than '), after, h('label', { for: 'notify-after' }, ' s finishes')),
    h('form', { method: 'dialog', class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Close')),
  );
  return dialog;
}

/** Hooks for the end-to-end tests (the page's state, never the engine's). */
function exposeForTests(
  backend: Backend,
  notifier: CompletionNotifier,
  hub: OutputHub,
  cache: ExecutionCache,
  inquiries: { tracker: InquiryTracker; asked: InquiryNotifier },
  announcements: { log: AnnouncementLog; notifier: AnnouncementNotifier },
): void {
  (window as unknown as Record<string, unknown>)['__stormdesk'] = { backend, notifier, hub, cache, inquiries, announcements };
}

/** The app icon's bolt (icons/generate.py), drawn inline: no asset, no emoji font needed. */
function logo(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 100');
  svg.setAttribute('class', 'mark');
  svg.setAttribute('aria-hidden', 'true');
  const tile = document.createElementNS(ns, 'rect');
  tile.setAttribute('width', '100');
  tile.setAttribute('height', '100');
  tile.setAttribute('rx', '24');
  tile.setAttribute('fill', '#3350c8');
  const bolt = document.createElementNS(ns, 'polygon');
  bolt.setAttribute('points', '58,10 26,56 47,56 40,90 75,40 53,40 63,10');
  bolt.setAttribute('fill', '#ffd43b');
  svg.append(tile, bolt);
  return svg;
}

/**
 * Browser only, without a session: where the token is, and a field to
 * present it once (the server then keeps the session in an HttpOnly cookie).
 */
async function signInPage(): Promise<HTMLElement> {
  const info = await sessionInfo().catch(() => null);
  const where = info?.token_file ?? 'the `token` file in Stormdesk\'s config directory';
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'the token file\'s contents', required: true });
  const problem = h('p', { class: 'error', role: 'alert', hidden: true });
  return h(
    'form',
    {
      class: 'connect',
      'aria-label': 'Sign in',
      onSubmit: (event: Event) => {
        event.preventDefault();
        problem.hidden = true;
        signIn(token.value.trim()).then(
          () => window.location.reload(),
          (error: unknown) => {
            problem.textContent = BackendError.from(error).message;
            problem.hidden = false;
          },
        );
      },
    },
    h('h1', {}, 'Sign in to this Stormdesk engine'),
    h(
      'p',
      {},
      'This browser has no session here (it ended, or this is a new browser). Open the console link that ',
      h('code', {}, 'stormdesk serve'),
      ' printed, or paste the API token from ',
      h('code', { class: 'token-file' }, where),
      '.',
    ),
    problem,
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), token, h('small', { class: 'help' }, 'Sent once; the server keeps the session in a cookie scripts cannot read.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );
}

const root = document.getElementById('app');
if (root) {
  start(root).catch((error: unknown) => {
    root.replaceChildren(h('p', { class: 'banner error', role: 'alert' }, BackendError.from(error).message));
  });
}
