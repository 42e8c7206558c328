// The selected action: what it is, a form from its parameter schema, Run.

import { BackendError, type Backend } from '../lib/backend';
import { CONTENT_VERSION, defaultHint, FieldError, formFields, parseField, widgetFor, type Field } from '../lib/params';
import type { ActionDetail, Execution } from '../lib/types';
import { append, clear, h } from './dom';

export interface ActionView {
  readonly element: HTMLElement;
  show(action: ActionDetail): void;
  loading(ref: string): void;
  failed(error: unknown): void;
}

export function actionView(backend: Backend, onRun: (execution: Execution) => void): ActionView {
  const element = h('section', { class: 'action', 'aria-label': 'Action' });
  element.append(h('p', { class: 'empty' }, 'Select an action to run it.'));

  function input(field: Field): HTMLElement {
    const { name, spec } = field;
    const id = `param-${name}`;
    const hint = defaultHint(spec);
    const common = { id, name, 'aria-describedby': `${id}-help` };
    switch (widgetFor(spec)) {
      case 'boolean':
        return h('input', { ...common, type: 'checkbox', checked: spec.default === true });
      case 'select': {
        const options = (spec.enum ?? []).map((v) => String(v));
        const preset = spec.default === undefined || spec.default === null ? '' : String(spec.default);
        return h(
          'select',
          { ...common },
          !spec.required || preset === '' ? h('option', { value: '' }, preset === '' ? '—' : `default (${preset})`) : null,
          options.map((o) => h('option', { value: o, selected: o === preset && spec.required === true }, o)),
        );
      }
      case 'json': {
        const example = spec.type === 'array' ? 'a, b, c  or  JSON' : spec.type === 'object' ? 'key=value, …  or  JSON' : 'JSON';
        return h('textarea', { ...common, rows: 2, placeholder: hint || example });
      }
      case 'password':
        return h('input', { ...common, type: 'password', autocomplete: 'off' });
      case 'integer':
        return h('input', { ...common, type: 'number', step: 1, placeholder: hint });
      case 'number':
        return h('input', { ...common, type: 'number', step: 'any', placeholder: hint });
      default:
        return h('input', { ...common, type: 'text', placeholder: hint, spellcheck: 'false' });
    }
  }

  function fieldRow(field: Field): HTMLElement {
    const { name, spec } = field;
    const required = spec.required ? h('span', { class: 'required', title: 'required' }, ' *') : null;
    return h(
      'div',
      { class: widgetFor(spec) === 'boolean' ? 'field checkbox' : 'field', 'data-field': name },
      h('label', { for: `param-${name}` }, name, required),
      input(field),
      h('small', { id: `param-${name}-help`, class: 'help' }, spec.description ?? ''),
    );
  }

  function revisionRow(revision: HTMLInputElement): HTMLElement {
    return h(
      'details',
      { class: 'advanced' },
      h('summary', {}, 'Revision'),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'content-version' }, CONTENT_VERSION),
        revision,
        h('small', { class: 'help' }, 'A tag, branch or commit of the pack; empty for the current one.'),
      ),
    );
  }

  function show(action: ActionDetail): void {
    clear(element);
    const fields = formFields(action.parameters);
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    // Script runners declare `content_version` themselves; other actions get a field for it here.
    const revisionInSchema = fields.some((f) => f.name === CONTENT_VERSION);
    const revision = h('input', {
      id: 'content-version',
      type: 'text',
      placeholder: 'current',
      spellcheck: 'false',
    });
    const run = h('button', { type: 'submit', class: 'primary' }, 'Run');
    const runnable = action.supported && action.enabled;

    const form = h(
      'form',
      { class: 'params', novalidate: true },
      fields.map(fieldRow),
      fields.length === 0 ? h('p', { class: 'muted' }, 'This action takes no parameters.') : null,
      revisionInSchema ? null : revisionRow(revision),
      error,
      h('div', { class: 'actions' }, run),
    );

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      form.querySelectorAll('.field.invalid').forEach((el) => el.classList.remove('invalid'));
      const parameters: Record<string, unknown> = {};
      let contentVersion = revision.value.trim();
      try {
        for (const field of fields) {
          const el = form.elements.namedItem(field.name) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
          const raw = el instanceof HTMLInputElement && el.type === 'checkbox' ? el.checked : el.value;
          const value = parseField(field, raw);
          if (field.name === CONTENT_VERSION) contentVersion = typeof value === 'string' ? value.trim() : '';
          else if (value !== undefined) parameters[field.name] = value;
        }
      } catch (e) {
        if (e instanceof FieldError) {
          form.querySelector(`[data-field="${CSS.escape(e.field)}"]`)?.classList.add('invalid');
        }
        error.textContent = e instanceof Error ? e.message : String(e);
        error.hidden = false;
        return;
      }
      run.disabled = true;
      backend
        .run({ action: action.ref, parameters, ...(contentVersion ? { content_version: contentVersion } : {}) })
        .then(onRun, (e: unknown) => {
          error.textContent = BackendError.from(e).message;
          error.hidden = false;
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
        h('h1', {}, action.ref),
        h('span', { class: 'runner' }, action.runner_type),
      ),
      action.description ? h('p', { class: 'description' }, action.description) : null,
      runnable ? null : h('p', { class: 'notice' }, action.unsupported_reason ?? 'This action is disabled.'),
      form,
    ]);
  }

  return {
    element,
    show,
    loading(ref) {
      clear(element);
      element.append(h('p', { class: 'muted' }, `Loading ${ref}…`));
    },
    failed(error) {
      clear(element);
      element.append(h('p', { class: 'error', role: 'alert' }, BackendError.from(error).message));
    },
  };
}
