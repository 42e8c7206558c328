// Stormdesk's web UI: the same page runs in the desktop app (Tauri IPC) and in
// a browser against `stormdesk serve` (HTTP API); see lib/backend.ts.

import './styles.css';

import { BackendError, createBackend, httpConfigFromPage, saveHttpConfig } from './lib/backend';
import { catalogView } from './ui/catalog';
import { actionView } from './ui/action-view';
import { executionView } from './ui/execution-view';
import { h } from './ui/dom';

async function start(root: HTMLElement): Promise<void> {
  const backend = createBackend();
  const banner = h('p', { class: 'banner error', role: 'alert', hidden: true });

  const execution = executionView(backend);
  let selectToken = 0;
  const action = actionView(backend, (started) => execution.follow(started));
  const catalog = catalogView((summary) => {
    const token = ++selectToken;
    catalog.select(summary.ref);
    action.loading(summary.ref);
    backend.getAction(summary.ref).then(
      (detail) => {
        if (token === selectToken) action.show(detail);
      },
      (error: unknown) => {
        if (token === selectToken) action.failed(error);
      },
    );
  });

  root.append(
    h(
      'header',
      { class: 'topbar' },
      h('span', { class: 'brand' }, logo(), 'Stormdesk'),
      h('span', { class: 'transport', title: 'Engine' }, backend.transport === 'tauri' ? 'desktop' : backend.location),
    ),
    banner,
    h('div', { class: 'layout' }, catalog.element, h('main', { class: 'content' }, action.element, execution.element)),
  );

  const unsubscribe: (() => void)[] = [];

  async function load(): Promise<void> {
    try {
      const [packs, actions] = await Promise.all([backend.listPacks(), backend.listActions()]);
      catalog.show(packs, actions);
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
  unsubscribe.push(await backend.onExecution((changed) => execution.update(changed)));
  unsubscribe.push(
    await backend.onResync(() => {
      void load();
      execution.refresh();
    }),
  );
  await load();
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
