// The Packs screen: every pack with where it comes from (git origin and
// commit, or a directory), its revision, what did not load and why
// (metadata errors, unsupported actions, ignored sensors/rules/aliases), and
// which pack it hides; install from a URL or path and update from origin,
// the engine's `packs.install` / `packs.update` execution's output showing
// the progress live.

import { BackendError, type Backend } from '../lib/backend';
import type { ExecutionCache } from '../lib/executions';
import type { OutputHub } from '../lib/output-hub';
import { isCompleted, type Execution, type PackSummary, type Revisions } from '../lib/types';
import { append, clear, h } from './dom';
import { statusBadge } from './execution-header';
import { outputView } from './output-view';

export interface PacksView {
  readonly element: HTMLElement;
  /** Shows the screen; `pack` is scrolled to and marked. */
  load(pack: string | null): void;
  setPacks(packs: PackSummary[]): void;
  update(execution: Execution): void;
}

export function packsView(backend: Backend, hub: OutputHub, cache: ExecutionCache, onChanged: () => void): PacksView {
  const source = h('input', { id: 'pack-source', name: 'source', type: 'text', required: true, spellcheck: 'false', placeholder: 'e.g. https://github.com/StackStorm-Exchange/stackstorm-csv or /srv/packs/mine', 'aria-label': 'Git URL or path' });
  const ref = h('input', { id: 'pack-ref', name: 'ref', type: 'text', spellcheck: 'false', placeholder: 'e.g. v1.2.0 (optional)', 'aria-label': 'Revision' });
  const force = h('input', { id: 'pack-force', name: 'force', type: 'checkbox' });
  const installButton = h('button', { type: 'submit', class: 'primary' }, 'Install');
  const formError = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'pack-install', 'aria-label': 'Install a pack' },
    h('div', { class: 'field' }, h('label', { for: 'pack-source' }, 'Git URL or path'), source, h('small', { class: 'help' }, 'A git URL (https, ssh, file), a local repository or a plain directory holding a pack, or a StackStorm Exchange name such as csv.')),
    h('div', { class: 'field' }, h('label', { for: 'pack-ref' }, 'revision'), ref, h('small', { class: 'help' }, 'A tag, branch or commit to check out; empty for the default branch.')),
    h('p', { class: 'inline' }, force, h('label', { for: 'pack-force' }, ' replace an installed pack of the same name')),
    formError,
    h('div', { class: 'actions' }, installButton),
  );
  const jobTitle = h('h2', {});
  const jobStatus = h('span', {});
  const jobLink = h('a', { class: 'muted' }, 'open the execution');
  const jobOutput = outputView(backend, hub);
  const job = h('section', { class: 'pack-job', hidden: true, 'aria-label': 'Pack job' }, h('header', { class: 'job-header' }, jobTitle, jobStatus, jobLink), jobOutput.element);
  const list = h('div', { class: 'pack-list' });
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const element = h(
    'section',
    { class: 'packs', 'aria-label': 'Packs' },
    h('header', { class: 'action-header' }, h('h1', {}, 'Packs')),
    h('details', { class: 'install-box', open: true }, h('summary', {}, 'Install a pack'), form),
    job,
    message,
    list,
  );

  let packs: PackSummary[] = [];
  const revisions = new Map<string, Revisions | null>();
  const reading = new Set<string>();
  let focus: string | null = null;
  let current: Execution | null = null;

  function showJob(e: Execution, title: string): void {
    current = cache.put(e);
    job.hidden = false;
    jobTitle.textContent = title;
    jobLink.setAttribute('href', `#/execution/${e.id}`);
    drawJob();
    jobOutput.show([{ id: e.id, prefix: '' }], false, `${e.action.ref}-${e.id.slice(-8)}`);
    jobOutput.setDone(isCompleted(current.status));
    job.scrollIntoView({ block: 'nearest' });
    // Done before the console heard of it (a quick job, a slow network): no
    // event will say it completed.
    if (isCompleted(current.status)) finished(current);
    // Events may have come before the answer.
    backend.getExecution(e.id).then((latest) => update(latest), () => {});
  }

  function drawJob(): void {
    if (!current) return;
    clear(jobStatus);
    jobStatus.append(statusBadge(current.status));
    const result = current.result as { error?: string } | undefined;
    if (current.status === 'failed' && typeof result?.error === 'string') {
      jobStatus.append(h('span', { class: 'error' }, ` ${result.error}`));
    }
  }

  function update(e: Execution): void {
    if (!current || e.id !== current.id) return;
    const before = current.status;
    current = cache.put(e);
    drawJob();
    jobOutput.setDone(isCompleted(current.status));
    if (isCompleted(current.status) && (!isCompleted(before) || before !== current.status)) finished(current);
  }

  /** The job completed: the packs (and the catalogue) are read again. */
  function finished(e: Execution): void {
    hub.completed(e.id);
    installButton.disabled = false;
    revisions.clear();
    onChanged();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    formError.hidden = true;
    const where = source.value.trim();
    if (!where) return;
    const spec = ref.value.trim() ? `${where}=${ref.value.trim()}` : where;
    installButton.disabled = true;
    backend.installPacks([spec], force.checked).then(
      (e) => showJob(e, `Installing ${where}`),
      (error: unknown) => {
        installButton.disabled = false;
        formError.textContent = BackendError.from(error).message;
        formError.hidden = false;
      },
    );
  });

  function sourceFacts(pack: PackSummary): HTMLElement {
    const rev = revisions.get(pack.ref);
    if (!pack.git) {
      return h('p', { class: 'pack-source' }, h('span', { class: 'muted' }, 'directory '), h('code', {}, pack.path || '(bundled)'));
    }
    if (rev === undefined) return h('p', { class: 'pack-source muted' }, 'git: reading…');
    const out = rev?.checked_out;
    return h(
      'p',
      { class: 'pack-source' },
      h('span', { class: 'muted' }, 'git '),
      rev?.origin ? h('code', { class: 'origin', title: 'origin' }, rev.origin) : h('span', { class: 'muted' }, '(no origin)'),
      out ? h('span', {}, ' at ', h('code', { class: 'commit', title: out.sha }, out.sha.slice(0, 12)), out.name ? h('span', { 'data-revision': out.name }, ` (${out.name})`) : null) : null,
      h('br', {}),
      h('span', { class: 'muted' }, 'in '),
      h('code', {}, pack.path),
    );
  }

  function listOf(title: string, items: string[], cls: string): HTMLElement | null {
    if (items.length === 0) return null;
    return h('div', { class: `pack-problems-list ${cls}` }, h('h3', {}, `${title} (${items.length})`), h('ul', {}, items.map((i) => h('li', {}, i))));
  }

  function card(pack: PackSummary): HTMLElement {
    const rev = revisions.get(pack.ref);
    // Update is Stormdesk's (`/v1/packs/update`); StackStorm reinstalls instead.
    const canUpdate = backend.capabilities.packUpdate && pack.git && !!rev?.origin;
    const update = canUpdate
      ? h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'data-action': 'update',
            title: `Fetch ${rev?.origin ?? ''} and fast-forward`,
            onClick: (event: Event) => {
              const b = event.currentTarget as HTMLButtonElement;
              b.disabled = true;
              backend.updatePacks([pack.ref]).then(
                (e) => showJob(e, `Updating ${pack.ref}`),
                (error: unknown) => {
                  b.disabled = false;
                  message.textContent = BackendError.from(error).message;
                  message.hidden = false;
                },
              );
            },
          },
          'Update',
        )
      : null;
    const errors = [
      ...(pack.python_env_error ? [`Python environment: ${pack.python_env_error.trim()} (its Python actions cannot run; retry with \`stormdesk pack setup-venv ${pack.ref}\`)`] : []),
      ...(pack.errors ?? []),
    ];
    // StackStorm describes a pack without Stormdesk's fields (what can run, what did not load).
    const unsupported = (pack.unsupported ?? []).map((u) => `${u.name}: ${u.reason}`);
    const ignored = pack.ignored ?? [];
    return h(
      'article',
      { class: `pack-card${errors.length > 0 ? ' has-errors' : ''}${focus === pack.ref ? ' focused' : ''}`, 'data-pack': pack.ref, id: `pack-${pack.ref}` },
      h(
        'header',
        {},
        h('h2', {}, pack.name, pack.version ? h('span', { class: 'muted' }, ` ${pack.version}`) : null, pack.ref !== pack.name ? h('code', { class: 'muted' }, ` ${pack.ref}`) : null),
        typeof pack.actions === 'number' ? h('span', { class: 'muted' }, `${pack.actions} action${pack.actions === 1 ? '' : 's'} can run`) : null,
        update,
      ),
      pack.description ? h('p', { class: 'description' }, pack.description) : null,
      sourceFacts(pack),
      pack.shadows ? h('p', { class: 'notice shadows' }, 'Takes the place of the pack of the same name in ', h('code', {}, pack.shadows), '.') : null,
      listOf('Not loaded', errors, 'bad'),
      listOf('Unsupported actions', unsupported, 'warn'),
      listOf('Ignored', ignored, 'muted'),
    );
  }

  function draw(): void {
    clear(list);
    if (packs.length === 0) {
      list.append(h('p', { class: 'empty' }, 'No packs loaded.'));
      return;
    }
    // Packs with problems first, then by name.
    const troubled = (p: PackSummary): number => Number((p.errors?.length ?? 0) > 0 || Boolean(p.python_env_error));
    const sorted = [...packs].sort((a, b) => troubled(b) - troubled(a) || a.ref.localeCompare(b.ref));
    append(list, sorted.map(card));
    if (focus) document.getElementById(`pack-${focus}`)?.scrollIntoView({ block: 'nearest' });
  }

  function readRevisions(): void {
    for (const pack of packs) {
      if (!pack.git || revisions.has(pack.ref) || reading.has(pack.ref)) continue;
      reading.add(pack.ref);
      backend.listRevisions(pack.ref).then(
        (r) => {
          reading.delete(pack.ref);
          revisions.set(pack.ref, r);
          if (!element.hidden) draw();
        },
        () => {
          reading.delete(pack.ref);
          revisions.set(pack.ref, null);
          if (!element.hidden) draw();
        },
      );
    }
  }

  return {
    element,
    load(pack) {
      focus = pack;
      message.hidden = true;
      draw();
      readRevisions();
    },
    setPacks(next) {
      packs = next;
      if (!element.hidden) {
        draw();
        readRevisions();
      }
    },
    update,
  };
}
