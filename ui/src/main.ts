// Stormdesk's web UI: the same page runs in the desktop app (Tauri IPC) and in
// a browser against `stormdesk serve` (HTTP API); see lib/backend.ts.
//
// Screens (the address's hash keeps the place, so reload and back work):
// `#/action/<ref>` the catalogue and an action's form, with the run below;
// `#/execution/<id>` one execution; `#/history` every execution.

import './styles.css';

import { BackendError, createBackend, httpConfigFromPage, saveHttpConfig, type Backend } from './lib/backend';
import { askPermission, CompletionNotifier } from './lib/notify';
import { applyTheme, effectiveTheme, nextTheme, notifySettings, saveNotifySettings, themeChoice } from './lib/prefs';
import { actionRef, contentVersion, type Execution } from './lib/types';
import { actionView } from './ui/action-view';
import { catalogView } from './ui/catalog';
import { h } from './ui/dom';
import { executionView } from './ui/execution-view';
import { historyView } from './ui/history-view';

type Route = { view: 'action'; ref: string | null } | { view: 'execution'; id: string } | { view: 'history' };

function parseRoute(hash: string): Route {
  const [, view, ...rest] = hash.replace(/^#/, '').split('/');
  const arg = rest.length > 0 ? decodeURIComponent(rest.join('/')) : null;
  if (view === 'history') return { view: 'history' };
  if (view === 'execution' && arg) return { view: 'execution', id: arg };
  return { view: 'action', ref: arg };
}

export const SHORTCUTS: [string, string][] = [
  ['/', 'Search (actions, or executions in History)'],
  ['↑ ↓ Enter', 'Move through actions, history rows or tree nodes; open'],
  ['← →', 'Collapse / expand a tree node'],
  ['Ctrl+Enter', 'Run the form'],
  ['r', 'Re-run the execution shown (form filled in, editable)'],
  ['c', 'Cancel the execution shown'],
  ['p', 'Pause / resume the workflow shown'],
  ['g a', 'Actions'],
  ['g h', 'History'],
  ['t', 'Switch theme (system, dark, light)'],
  ['Esc', 'Close the dialog, leave the field'],
  ['?', 'This help'],
];

async function start(root: HTMLElement): Promise<void> {
  applyTheme(themeChoice());
  const backend = createBackend();
  const banner = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const notifier = new CompletionNotifier();

  let selectToken = 0;
  const execution = executionView(backend, (e) => void openReRun(e));
  const action = actionView(backend, (started) => {
    void askPermission();
    showRun(started);
  });
  const historyScreen = historyView(backend, (e) => go(`#/execution/${e.id}`));
  const catalog = catalogView((summary) => go(`#/action/${summary.ref}`));

  const runTab = h('a', { href: '#/action', class: 'tab', 'data-view': 'action' }, 'Actions');
  const historyTab = h('a', { href: '#/history', class: 'tab', 'data-view': 'history' }, 'History');
  const themeButton = h('button', { type: 'button', class: 'icon-button', id: 'theme-toggle', title: 'Theme (t)' });
  const helpButton = h('button', { type: 'button', class: 'icon-button', title: 'Keyboard shortcuts (?)', 'aria-label': 'Help' }, '?');
  const help = helpDialog();
  const content = h('main', { class: 'content' }, action.element, execution.element, historyScreen.element);
  const layout = h('div', { class: 'layout' }, catalog.element, content);

  function drawTheme(): void {
    const choice = themeChoice();
    themeButton.textContent = effectiveTheme() === 'dark' ? '☾' : '☀';
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
      h('nav', { class: 'tabs', 'aria-label': 'Screens' }, runTab, historyTab),
      h(
        'span',
        { class: 'topbar-end' },
        h('span', { class: 'transport', title: 'Engine' }, backend.transport === 'tauri' ? 'desktop' : backend.location),
        themeButton,
        helpButton,
      ),
    ),
    banner,
    layout,
    help,
  );

  function go(hash: string): void {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  }

  /** A run started from the form: shown below it, and the address names it. */
  function showRun(started: Execution): void {
    execution.follow(started);
    notifier.observe(started);
    const hash = `#/execution/${started.id}`;
    window.history.replaceState(window.history.state, '', hash);
    shownRoute = hash;
    markTabs('action');
  }

  async function openReRun(e: Execution): Promise<void> {
    const token = ++selectToken;
    action.loading(actionRef(e));
    layout.classList.remove('execution-only');
    action.element.hidden = false;
    historyScreen.element.hidden = true;
    try {
      const detail = await backend.getAction(actionRef(e), contentVersion(e) ?? undefined);
      if (token === selectToken) {
        catalog.select(actionRef(e));
        action.show(detail, e);
        action.element.scrollIntoView({ block: 'nearest' });
      }
    } catch (error) {
      if (token === selectToken) action.failed(error);
    }
  }

  function markTabs(view: string): void {
    runTab.classList.toggle('active', view !== 'history');
    historyTab.classList.toggle('active', view === 'history');
  }

  let shownRoute: string | null = null;
  function route(): void {
    const hash = window.location.hash;
    if (hash === shownRoute) return;
    shownRoute = hash;
    const r = parseRoute(hash);
    markTabs(r.view);
    action.element.hidden = r.view !== 'action';
    historyScreen.element.hidden = r.view !== 'history';
    if (r.view !== 'execution' && r.view !== 'action') execution.element.hidden = true;
    layout.classList.toggle('execution-only', r.view === 'execution');
    if (r.view === 'history') {
      historyScreen.load();
    } else if (r.view === 'execution') {
      if (execution.current?.id !== r.id) void execution.open(r.id);
      else execution.element.hidden = false;
    } else if (r.ref) {
      const token = ++selectToken;
      const ref = r.ref;
      catalog.select(ref);
      action.loading(ref);
      execution.element.hidden = true;
      backend.getAction(ref).then(
        (detail) => {
          if (token === selectToken) action.show(detail);
        },
        (error: unknown) => {
          if (token === selectToken) action.failed(error);
        },
      );
    }
  }

  const unsubscribe: (() => void)[] = [];

  async function load(): Promise<void> {
    try {
      const [packs, actions] = await Promise.all([backend.listPacks(), backend.listActions()]);
      catalog.show(packs, actions);
      historyScreen.setCatalog(packs, actions);
      banner.hidden = true;
    } catch (error) {
      const e = BackendError.from(error);
      if (backend.transport === 'http' && (e.code === 'unauthorized' || e.code === 'unavailable')) {
        unsubscribe.forEach((stop) => stop());
        root.replaceChildren(connectForm(e.message));
        return;
      }
      banner.textContent = e.message;
      banner.hidden = false;
    }
  }

  // Subscribe before the first load so no change falls between the two.
  unsubscribe.push(
    await backend.onExecution((changed) => {
      notifier.observe(changed);
      execution.update(changed);
      if (!historyScreen.element.hidden) historyScreen.update(changed);
    }),
  );
  unsubscribe.push(await backend.onOutput((id, chunk) => execution.output(id, chunk)));
  unsubscribe.push(
    await backend.onResync(() => {
      void load();
      execution.refresh();
      if (!historyScreen.element.hidden) historyScreen.load();
    }),
  );
  window.addEventListener('hashchange', route);
  installShortcuts({
    search: () => (historyScreen.element.hidden ? catalog.focusSearch() : historyScreen.focusSearch()),
    reRun: () => execution.reRun(),
    cancel: () => execution.cancel(),
    pause: () => execution.togglePause(),
    theme: toggleTheme,
    help: () => (help.open ? help.close() : help.showModal()),
    actions: () => go('#/action'),
    history: () => go('#/history'),
  });
  await load();
  route();
  exposeForTests(backend, notifier);
}

interface ShortcutActions {
  search(): void;
  reRun(): void;
  cancel(): void;
  pause(): void;
  theme(): void;
  help(): void;
  actions(): void;
  history(): void;
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
      if (event.key === 'a') actions.actions();
      else if (event.key === 'h') actions.history();
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
function exposeForTests(backend: Backend, notifier: CompletionNotifier): void {
  (window as unknown as Record<string, unknown>)['__stormdesk'] = { backend, notifier };
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

/** Browser only: where the engine's API is and its token (`<config>/token`). */
function connectForm(problem: string): HTMLElement {
  const current = httpConfigFromPage();
  const api = h('input', { id: 'api', type: 'url', value: current.baseUrl, placeholder: 'http://127.0.0.1:9101', required: true });
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'API token' });
  return h(
    'form',
    {
      class: 'connect',
      onSubmit: (event: Event) => {
        event.preventDefault();
        saveHttpConfig({ baseUrl: api.value.trim().replace(/\/+$/, ''), token: token.value.trim() || null });
        window.location.reload();
      },
    },
    h('h1', {}, 'Connect to a Stormdesk engine'),
    h('p', { class: 'error', role: 'alert' }, problem),
    h('div', { class: 'field' }, h('label', { for: 'api' }, 'API URL'), api),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Token'), token, h('small', { class: 'help' }, 'The contents of the token file in the Stormdesk config directory.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Connect')),
  );
}

const root = document.getElementById('app');
if (root) {
  start(root).catch((error: unknown) => {
    root.replaceChildren(h('p', { class: 'banner error', role: 'alert' }, BackendError.from(error).message));
  });
}
