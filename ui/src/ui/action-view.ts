// The selected action: what it is, a revision picker for git packs, a form
// from its parameter schema (at that revision), Run. Also the re-run form of
// an execution: its parameters filled in, editable, at its revision or another.

import { BackendError, type Backend } from '../lib/backend';
import { CONTENT_VERSION, defaultHint, FieldError, formFields, isRunnerOption, parseField, widgetFor, type Field } from '../lib/params';
import { contentVersion, type ActionDetail, type ActionSummary, type Execution, type Revision, type Revisions } from '../lib/types';
import { append, clear, h } from './dom';

export interface ActionView {
  readonly element: HTMLElement;
  /**
   * The action's form; `rerun` fills it from that execution and runs it
   * again on submit. `summary` (the listing's entry, parameters as the
   * action declares them) tells its own parameters from its runner's.
   */
  show(action: ActionDetail, rerun?: Execution, summary?: ActionSummary): void;
  loading(ref: string): void;
  failed(error: unknown): void;
  /** Submits the form, as the Run button does. */
  submit(): void;
  /** The packs changed (installed, updated, removed): revisions are asked for again. */
  packsChanged(): void;
}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** How a revision reads in the picker: `v1.2.0 · 2024-05-01 · Fix the thing`. */
export function revisionLabel(revision: Revision): string {
  const date = revision.date ? revision.date.slice(0, 10) : '';
  const name = revision.kind === 'commit' ? revision.sha.slice(0, 7) : revision.name;
  const subject = revision.subject.length > 60 ? `${revision.subject.slice(0, 57)}…` : revision.subject;
  return [name, date, subject].filter(Boolean).join(' · ') + (revision.checked_out ? '  (installed)' : '');
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function actionView(backend: Backend, onRun: (execution: Execution) => void): ActionView {
  const element = h('section', { class: 'action', 'aria-label': 'Action' });
  element.append(h('p', { class: 'empty' }, 'Select an action to run it.'));
  let form: HTMLFormElement | null = null;
  /** Revisions per pack, fetched once per selection of a pack's action. */
  const revisionCache = new Map<string, Promise<Revisions | BackendError | null>>();
  let showToken = 0;

  function input(field: Field, value: unknown): Control {
    const { name, spec } = field;
    const id = `param-${name}`;
    const hint = defaultHint(spec);
    const common = { id, name, 'aria-describedby': `${id}-help ${id}-error` };
    const given = value !== undefined;
    const text = !given || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    switch (widgetFor(spec)) {
      case 'boolean':
        return h('input', { ...common, type: 'checkbox', checked: given ? value === true : spec.default === true });
      case 'select': {
        const options = (spec.enum ?? []).map((v) => String(v));
        const preset = given ? text : spec.default === undefined || spec.default === null ? '' : String(spec.default);
        return h(
          'select',
          { ...common },
          !spec.required || preset === '' ? h('option', { value: '' }, preset === '' || given ? '—' : `default (${preset})`) : null,
          options.map((o) => h('option', { value: o, selected: o === preset && (given || spec.required === true) }, o)),
        );
      }
      case 'json': {
        const example = spec.type === 'array' ? 'e.g. a, b, c  or  JSON' : spec.type === 'object' ? 'e.g. key=value, …  or  JSON' : 'JSON';
        return h('textarea', { ...common, rows: 2, placeholder: hint || example, value: text });
      }
      case 'password':
        return h('input', {
          ...common,
          type: 'password',
          autocomplete: 'off',
          // Secrets are never stored in clear: a re-run needs them again.
          placeholder: given ? 'not stored: enter it again' : '',
        });
      case 'integer':
        return h('input', { ...common, type: 'text', inputmode: 'numeric', placeholder: hint, value: text, spellcheck: 'false' });
      case 'number':
        return h('input', { ...common, type: 'text', inputmode: 'decimal', placeholder: hint, value: text, spellcheck: 'false' });
      default:
        return h('input', { ...common, type: 'text', placeholder: hint, value: text, spellcheck: 'false' });
    }
  }

  function fieldRow(field: Field, value: unknown): HTMLElement {
    const { name, spec } = field;
    const required = spec.required ? h('span', { class: 'required', title: 'required' }, ' *') : null;
    const control = input(field, value);
    const reveal =
      widgetFor(spec) === 'password'
        ? h('button', {
            type: 'button',
            class: 'reveal',
            'aria-label': `Show ${name}`,
            'aria-pressed': 'false',
            onClick: (event: Event) => {
              const b = event.currentTarget as HTMLButtonElement;
              const shown = (control as HTMLInputElement).type === 'text';
              (control as HTMLInputElement).type = shown ? 'password' : 'text';
              b.textContent = shown ? 'Show' : 'Hide';
              b.setAttribute('aria-pressed', String(!shown));
              b.setAttribute('aria-label', `${shown ? 'Show' : 'Hide'} ${name}`);
            },
          }, 'Show')
        : null;
    return h(
      'div',
      { class: widgetFor(spec) === 'boolean' ? 'field checkbox' : 'field', 'data-field': name },
      h('label', { for: `param-${name}` }, name, required, spec.type ? h('span', { class: 'type' }, ` ${spec.type}`) : null),
      reveal ? h('div', { class: 'with-reveal' }, control, reveal) : control,
      h('small', { id: `param-${name}-error`, class: 'field-error', role: 'alert' }),
      h('small', { id: `param-${name}-help`, class: 'help' }, spec.description ?? ''),
    );
  }

  function setFieldError(name: string, text: string): boolean {
    const row = form?.querySelector<HTMLElement>(`[data-field="${CSS.escape(name)}"]`);
    if (!row) return false;
    row.closest('details')?.setAttribute('open', '');
    row.classList.add('invalid');
    const error = row.querySelector<HTMLElement>('.field-error');
    if (error) error.textContent = text;
    row.querySelector<HTMLElement>('input, select, textarea')?.setAttribute('aria-invalid', 'true');
    return true;
  }

  function clearFieldError(row: Element): void {
    row.classList.remove('invalid');
    const error = row.querySelector('.field-error');
    if (error) error.textContent = '';
    const control = row.querySelector<HTMLElement>('[aria-invalid]');
    control?.removeAttribute('aria-invalid');
    control?.removeAttribute('title');
  }

  function rawValue(control: Control): string | boolean {
    return control instanceof HTMLInputElement && control.type === 'checkbox' ? control.checked : control.value;
  }

  function revisionPicker(action: ActionDetail, revisions: Revisions, current: string, onPick: (rev: string) => void): HTMLElement {
    const installed = revisions.checked_out;
    const installedName = installed ? installed.name ?? installed.sha.slice(0, 7) : '';
    const groups: [string, Revision[]][] = [
      ['Tags', revisions.revisions.filter((r) => r.kind === 'tag')],
      ['Branches', revisions.revisions.filter((r) => r.kind === 'branch')],
      ['Commits', revisions.revisions.filter((r) => r.kind === 'commit')],
    ];
    const known = revisions.revisions.some((r) => (r.kind === 'commit' ? r.sha : r.name) === current);
    const select = h(
      'select',
      { id: 'revision', name: 'revision', 'aria-describedby': 'revision-error' },
      h('option', { value: '' }, `installed${installedName ? ` (${installedName})` : ''}`),
      current && !known ? h('option', { value: current, selected: true }, current) : null,
      groups
        .filter(([, list]) => list.length > 0)
        .map(([label, list]) =>
          h(
            'optgroup',
            { label },
            list.map((r) => {
              const value = r.kind === 'commit' ? r.sha : r.name;
              return h('option', { value, selected: value === current, 'data-kind': r.kind, 'data-installed': r.checked_out ? 'true' : null }, revisionLabel(r));
            }),
          ),
        ),
    );
    select.addEventListener('change', () => onPick(select.value));
    return h(
      'div',
      { class: 'field revision-field', 'data-field': 'revision' },
      h('label', { for: 'revision' }, 'revision'),
      select,
      h('small', { id: 'revision-error', class: 'field-error', role: 'alert' }),
      h(
        'small',
        { class: 'help' },
        (revisions as { ls_remote?: boolean }).ls_remote
          ? `The revision of pack ${action.pack} to run, from its repository (${revisions.origin ?? 'repo_url'}); the server sends it as content_version, the form shows the installed parameters.`
          : `The revision of pack ${action.pack} to run; the form shows the action's parameters at that revision.`,
      ),
    );
  }

  /** The pack's revisions; the error when the desktop could not list them from the pack's repo_url. */
  function revisionsOf(pack: string): Promise<Revisions | BackendError | null> {
    let cached = revisionCache.get(pack);
    if (!cached) {
      cached = backend.listRevisions(pack).then(
        (r) => (r.git ? r : null),
        (e: unknown) => {
          const error = BackendError.from(e);
          return error.code === 'revisions_unavailable' ? error : null;
        },
      );
      revisionCache.set(pack, cached);
      // Tags and branches move: ask again next time the pack is picked.
      void cached.finally(() => setTimeout(() => revisionCache.delete(pack), 30_000));
    }
    return cached;
  }

  let declared: ReadonlySet<string> | undefined;

  function show(action: ActionDetail, rerun?: Execution, revision = (rerun ? contentVersion(rerun) : null) ?? '', values?: Map<string, unknown>): void {
    const token = ++showToken;
    clear(element);
    const prefill = values ?? new Map<string, unknown>(rerun ? Object.entries(rerun.parameters) : []);
    const allFields = formFields(action.parameters);
    const error = h('p', { class: 'error form-error', role: 'alert', hidden: true });
    const run = h('button', { type: 'submit', class: 'primary' }, rerun ? 'Re-run' : 'Run');
    const runnable = action.supported && action.enabled;
    const revisionSlot = h('div', { class: 'revision-slot' });
    let picked = revision;
    let pickerShown = false;
    // Script runners declare `content_version`; it is the run's revision, not
    // a parameter: the revision picker sets it, for git packs only.
    const fields = allFields.filter((f) => f.name !== CONTENT_VERSION);
    const runnerOption = (f: Field): boolean => isRunnerOption(f, declared);
    const row = (f: Field): HTMLElement => fieldRow(f, f.name === CONTENT_VERSION ? picked || undefined : prefill.get(f.name));

    const theForm = h(
      'form',
      { class: 'params', novalidate: true, 'aria-label': `Parameters of ${action.ref}` },
      revisionSlot,
      fields.filter((f) => !runnerOption(f)).map(row),
      fields.some(runnerOption)
        ? h(
            'details',
            { class: 'advanced runner-options', open: fields.some((f) => runnerOption(f) && prefill.has(f.name) && !rerun) ? true : null },
            h('summary', {}, `Runner options (${fields.filter(runnerOption).map((f) => f.name).join(', ')})`),
            fields.filter(runnerOption).map(row),
          )
        : null,
      fields.length === 0 ? h('p', { class: 'muted' }, 'This action takes no parameters.') : null,
      error,
      h('div', { class: 'actions' }, run, rerun ? h('span', { class: 'muted' }, `re-runs ${rerun.id}`) : null),
    );
    form = theForm;

    void revisionsOf(action.pack).then((revisions) => {
      if (token !== showToken || !revisions) return;
      // Listed from the pack's repository (a StackStorm server): the revision
      // travels as StackStorm's `content_version` runner parameter, which
      // only the script runners (local-shell-script, python-script) take.
      const fromRepo = revisions instanceof BackendError || (revisions as { ls_remote?: boolean }).ls_remote === true;
      if (fromRepo && !allFields.some((f) => f.name === CONTENT_VERSION)) return;
      if (revisions instanceof BackendError) {
        revisionSlot.append(h('p', { class: 'muted revision-note', role: 'note' }, `No revision picker: ${revisions.message}`));
        return;
      }
      pickerShown = true;
      // The picker replaces the schema's own `content_version` field.
      theForm.querySelector(`[data-field="${CONTENT_VERSION}"]`)?.remove();
      revisionSlot.append(
        revisionPicker(action, revisions, picked, (rev) => {
          picked = rev;
          reloadAt(rev);
        }),
      );
    });

    function currentValues(): Map<string, unknown> {
      const out = new Map<string, unknown>(prefill);
      for (const f of fields) {
        const control = theForm.elements.namedItem(f.name) as Control | null;
        if (!control) continue;
        const raw = rawValue(control);
        if (raw === '' || raw === false) continue;
        try {
          const v = parseField(f, raw);
          if (v !== undefined) out.set(f.name, v);
        } catch {
          out.set(f.name, raw);
        }
      }
      return out;
    }

    function reloadAt(rev: string): void {
      const keep = currentValues();
      const row = theForm.querySelector('[data-field="revision"]');
      if (row) clearFieldError(row);
      run.disabled = true;
      backend.getAction(action.ref, rev || undefined).then(
        (detail) => {
          if (token === showToken) show(detail, rerun, rev, keep);
        },
        (e: unknown) => {
          if (token !== showToken) return;
          setFieldError('revision', BackendError.from(e).message);
          run.disabled = false;
        },
      );
    }

    theForm.addEventListener('input', (event) => {
      const row = (event.target as Element).closest('.field.invalid');
      if (row) clearFieldError(row);
    });
    theForm.addEventListener('change', (event) => {
      const control = event.target as Control;
      const field = fields.find((f) => f.name === control.name);
      if (!field) return;
      // Marked at once; the message shows on Run (text appearing on blur
      // would move the button under the pointer).
      try {
        parseField(field, rawValue(control));
      } catch (e) {
        if (e instanceof FieldError) {
          control.closest('.field')?.classList.add('invalid');
          control.setAttribute('aria-invalid', 'true');
          control.title = e.message;
        }
      }
    });
    theForm.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        theForm.requestSubmit();
      }
    });

    theForm.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      theForm.querySelectorAll('.field.invalid').forEach(clearFieldError);
      const parameters: Record<string, unknown> = {};
      let contentVersion = picked.trim();
      let invalid = false;
      for (const field of fields) {
        const control = theForm.elements.namedItem(field.name) as Control | null;
        if (!control) continue;
        try {
          const raw = rawValue(control);
          if (rerun) {
            // Only what differs from the original run travels, as overrides.
            if (widgetFor(field.spec) === 'password' && raw === '') continue;
            const value = typeof raw === 'boolean' ? raw : parseField(field, raw);
            if (value !== undefined && !sameValue(value, rerun.parameters[field.name])) parameters[field.name] = value;
            continue;
          }
          const value = parseField(field, raw);
          if (field.name === CONTENT_VERSION && !pickerShown) contentVersion = typeof value === 'string' ? value.trim() : '';
          else if (value !== undefined) parameters[field.name] = value;
        } catch (e) {
          if (e instanceof FieldError && setFieldError(e.field, e.message)) invalid = true;
          else {
            error.textContent = e instanceof Error ? e.message : String(e);
            error.hidden = false;
            invalid = true;
          }
        }
      }
      if (invalid) {
        theForm.querySelector<HTMLElement>('.field.invalid input, .field.invalid select, .field.invalid textarea')?.focus();
        return;
      }
      run.disabled = true;
      const started = rerun
        ? backend.reRun(rerun.id, { parameters, ...(contentVersion ? { content_version: contentVersion } : {}) })
        : backend.run({ action: action.ref, parameters, ...(contentVersion ? { content_version: contentVersion } : {}) });
      started
        .then(onRun, (e: unknown) => {
          const err = BackendError.from(e);
          // The engine names the parameter in quotes: show its message at that field.
          const named = fields.filter((f) => err.message.includes(`'${f.name}'`));
          let placed = false;
          for (const f of named) placed = setFieldError(f.name, err.message) || placed;
          if (!placed && /revision|content_version/i.test(err.message) && pickerShown) placed = setFieldError('revision', err.message);
          if (!placed) {
            error.textContent = err.message;
            error.hidden = false;
          }
        })
        .finally(() => {
          run.disabled = !runnable;
        });
    });
    run.disabled = !runnable;

    append(element, [
      h(
        'header',
        { class: 'action-header' },
        h('h1', { title: action.ref }, rerun ? `Re-run ${action.ref}` : action.ref),
        h('span', { class: 'runner' }, action.runner_type),
      ),
      action.description ? h('p', { class: 'description' }, action.description) : null,
      runnable ? null : h('p', { class: 'notice' }, action.unsupported_reason ?? 'This action is disabled.'),
      theForm,
    ]);
  }

  return {
    element,
    show: (action, rerun, summary) => {
      declared = summary ? new Set(Object.keys(summary.parameters ?? {})) : undefined;
      show(action, rerun);
    },
    loading(ref) {
      showToken++;
      clear(element);
      element.append(h('p', { class: 'muted' }, `Loading ${ref}…`));
    },
    failed(error) {
      showToken++;
      clear(element);
      element.append(h('p', { class: 'error', role: 'alert' }, BackendError.from(error).message));
    },
    submit() {
      form?.requestSubmit();
    },
    packsChanged() {
      revisionCache.clear();
    },
  };
}
