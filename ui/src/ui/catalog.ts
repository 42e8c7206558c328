// The sidebar: packs and their actions, filtered by a search box.

import type { ActionSummary, PackSummary } from '../lib/types';
import { clear, h } from './dom';

export interface CatalogView {
  readonly element: HTMLElement;
  show(packs: PackSummary[], actions: ActionSummary[]): void;
  select(ref: string | null): void;
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
    onInput: () => render(),
  });
  const list = h('nav', { class: 'catalog-list', 'aria-label': 'Actions' });
  const element = h('aside', { class: 'sidebar' }, search, list);

  function matches(action: ActionSummary, terms: string[]): boolean {
    const haystack = `${action.ref} ${action.runner_type} ${action.description ?? ''}`.toLowerCase();
    return terms.every((term) => haystack.includes(term));
  }

  function render(): void {
    clear(list);
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const pack of packs) {
      const items = actions.filter((a) => a.pack === pack.ref && matches(a, terms));
      if (items.length === 0) continue;
      shown += items.length;
      list.append(
        h(
          'section',
          { class: 'pack' },
          h('h2', { title: pack.description ?? pack.path }, pack.name, pack.version ? h('span', { class: 'muted' }, ` ${pack.version}`) : null),
          h(
            'ul',
            {},
            items.map((action) =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: `action-item${action.ref === selected ? ' selected' : ''}${action.supported && action.enabled ? '' : ' unavailable'}`,
                    'data-ref': action.ref,
                    title: action.unsupported_reason ?? action.description ?? action.ref,
                    onClick: () => onSelect(action),
                  },
                  h('span', { class: 'action-name' }, action.name),
                  h('span', { class: 'runner' }, action.runner_type),
                ),
              ),
            ),
          ),
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
            { ref: action.pack, name: action.pack, description: null, version: null, path: '', actions: 0, unsupported: [] },
          ];
        }
      }
      render();
    },
    select(ref) {
      selected = ref;
      render();
    },
  };
}
