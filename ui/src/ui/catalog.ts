// The sidebar: packs and their actions, filtered by a search box. Keyboard:
// Up/Down move through the actions shown (from the search box too), Enter opens one.
// Actions Stormdesk cannot run are folded under each pack (the search shows
// them); a pack with load errors is marked, with a link to the Packs screen.

import type { ActionSummary, PackSummary } from '../lib/types';
import { clear, h } from './dom';

export interface CatalogView {
  readonly element: HTMLElement;
  show(packs: PackSummary[], actions: ActionSummary[]): void;
  select(ref: string | null): void;
  focusSearch(): void;
}

export function catalogView(onSelect: (action: ActionSummary) => void): CatalogView {
  let packs: PackSummary[] = [];
  let actions: ActionSummary[] = [];
  let selected: string | null = null;

  const search = h('input', {
    type: 'search',
    class: 'search',
    placeholder: 'Search actions',
    'aria-label': 'Search actions',
    onInput: () => {
      highlight = 0;
      render();
    },
    onKeydown: (event: Event) => {
      const e = event as KeyboardEvent;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        move(e.key === 'ArrowDown' ? 1 : -1, false);
      } else if (e.key === 'Enter') {
        e.preventDefault();
        const action = shownActions[highlight];
        if (action) onSelect(action);
      } else if (e.key === 'Escape' && search.value) {
        e.stopPropagation();
        search.value = '';
        render();
      }
    },
  });
  let highlight = 0;
  let shownActions: ActionSummary[] = [];

  /** Moves the highlight (from the search box) or the focus (in the list). */
  function move(delta: number, focus: boolean): void {
    if (shownActions.length === 0) return;
    highlight = Math.max(0, Math.min(shownActions.length - 1, highlight + delta));
    const buttons = list.querySelectorAll<HTMLButtonElement>('.action-item:not(.folded)');
    buttons.forEach((b, i) => b.classList.toggle('highlight', i === highlight));
    const target = buttons[highlight];
    if (focus) target?.focus();
    target?.scrollIntoView({ block: 'nearest' });
  }
  const list = h('nav', { class: 'catalog-list', 'aria-label': 'Actions' });
  list.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const buttons = [...list.querySelectorAll<HTMLButtonElement>('.action-item:not(.folded)')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    event.preventDefault();
    highlight = at;
    move(event.key === 'ArrowDown' ? 1 : -1, true);
  });
  const element = h('aside', { class: 'sidebar' }, search, list);

  function matches(action: ActionSummary, terms: string[]): boolean {
    const haystack = `${action.ref} ${action.runner_type} ${action.description ?? ''}`.toLowerCase();
    return terms.every((term) => haystack.includes(term));
  }

  function item(action: ActionSummary, folded = false): HTMLElement {
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `action-item${folded ? ' folded' : ''}${action.ref === selected ? ' selected' : ''}${action.supported && action.enabled ? '' : ' unavailable'}${shownActions.indexOf(action) === highlight && search.value ? ' highlight' : ''}`,
          'data-ref': action.ref,
          title: action.unsupported_reason ? `${action.ref}: ${action.unsupported_reason}` : action.description ? `${action.ref}: ${action.description}` : action.ref,
          onClick: () => onSelect(action),
        },
        h('span', { class: 'action-name' }, action.name),
        h('span', { class: 'runner' }, action.runner_type),
      ),
    );
  }

  function render(): void {
    clear(list);
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    shownActions = [];
    for (const pack of packs) {
      const all = actions.filter((a) => a.pack === pack.ref && matches(a, terms));
      // Runnable first; the rest folded unless the search asks for them.
      const runnable = all.filter((a) => a.supported && a.enabled);
      const folded = terms.length > 0 ? [] : all.filter((a) => !(a.supported && a.enabled));
      const items = terms.length > 0 ? all : runnable;
      if (all.length === 0) continue;
      shown += items.length;
      shownActions.push(...items);
      const problems = (pack.errors?.length ?? 0) + (pack.python_env_error ? 1 : 0);
      list.append(
        h(
          'section',
          { class: 'pack', 'data-pack': pack.ref },
          h(
            'h2',
            { title: pack.description ?? pack.path },
            h('span', { class: 'pack-name' }, pack.name),
            pack.version ? h('span', { class: 'muted' }, ` ${pack.version}`) : null,
            pack.git ? h('span', { class: 'git', title: 'git pack: pick a revision per run' }, ' git') : null,
            problems > 0
              ? h('a', { class: 'pack-problems', href: `#/packs/${encodeURIComponent(pack.ref)}`, title: 'Actions that did not load, or a Python environment that could not be made: see the Packs screen' }, `${problems} not loaded`)
              : null,
          ),
          h('ul', {}, items.map((a) => item(a))),
          folded.length > 0
            ? h(
                'details',
                { class: 'unsupported-actions' },
                h('summary', {}, `${folded.length} not runnable here`),
                h('ul', {}, folded.map((a) => item(a, true))),
              )
            : null,
        ),
      );
    }
    if (shown === 0) {
      list.append(
        h('p', { class: 'empty' }, actions.length === 0 ? 'No packs loaded.' : 'No action matches the search.'),
      );
    }
  }

  return {
    element,
    show(nextPacks, nextActions) {
      packs = nextPacks;
      actions = nextActions;
      // Actions of packs missing from the pack list still show, under their pack name.
      for (const action of actions) {
        if (!packs.some((p) => p.ref === action.pack)) {
          packs = [
            ...packs,
            { id: action.pack, ref: action.pack, name: action.pack, path: '', actions: 0, unsupported: [] },
          ];
        }
      }
      render();
    },
    select(ref) {
      selected = ref;
      render();
    },
    focusSearch() {
      search.focus();
      search.select();
    },
  };
}
