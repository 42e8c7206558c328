// The answer form of an Inquiry, generated from its JSON schema: a checkbox
// for a boolean, a drop-down for an enum, a number field for an integer or
// a number, a text field for a string, JSON for lists and objects. Required
// properties are marked `*`, descriptions are the fields' help. The form
// checks what it can (lib/inquiries.ts `readAnswer`) at the field; the
// engine checks the answer against the schema with StackStorm's rules and
// who may answer (`users`), and its message is shown when it refuses.

import { BackendError, type Backend } from '../lib/backend';
import { answerFields, readAnswer, type AnswerField, type RawValue } from '../lib/inquiries';
import { formatTime } from '../lib/time';
import type { Execution, Inquiry } from '../lib/types';
import { h } from './dom';

let forms = 0;

function control(id: string, f: AnswerField): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
  const common = { id, name: f.name, 'aria-describedby': `${id}-help ${id}-error` };
  switch (f.kind) {
    case 'boolean':
      return h('input', { ...common, type: 'checkbox', checked: f.default === true });
    case 'enum':
      return h(
        'select',
        common,
        h('option', { value: '' }, f.required ? 'pick one' : '—'),
        f.options.map((v, i) => h('option', { value: String(i), selected: v === f.default }, typeof v === 'string' ? v : JSON.stringify(v))),
      );
    case 'integer':
    case 'number':
      return h('input', {
        ...common,
        type: 'text',
        inputmode: f.kind === 'integer' ? 'numeric' : 'decimal',
        value: typeof f.default === 'number' ? String(f.default) : '',
        spellcheck: 'false',
      });
    case 'json': {
      const area = h('textarea', { ...common, rows: 3, spellcheck: 'false', placeholder: 'JSON: ["a", "b"] or {"key": "value"}' });
      if (f.default !== undefined) area.value = JSON.stringify(f.default);
      return area;
    }
    default:
      return h('input', { ...common, type: 'text', value: typeof f.default === 'string' ? f.default : '', spellcheck: 'false' });
  }
}

function typeHint(f: AnswerField): string {
  if (f.kind === 'enum') return 'one of';
  if (f.kind === 'json') return 'JSON';
  const range =
    f.minimum !== undefined && f.maximum !== undefined
      ? ` ${f.minimum}–${f.maximum}`
      : f.minimum !== undefined
        ? ` ≥ ${f.minimum}`
        : f.maximum !== undefined
          ? ` ≤ ${f.maximum}`
          : '';
  return `${f.kind}${range}`;
}

/** When the Inquiry times out: its execution's start plus `ttl` minutes; null when it never does. */
export function expiresAt(inquiry: Inquiry, execution: Execution | null): string | null {
  if (inquiry.ttl <= 0 || !execution) return null;
  const start = Date.parse(execution.start_timestamp);
  return Number.isFinite(start) ? new Date(start + inquiry.ttl * 60_000).toISOString() : null;
}

/** Who may answer, as the engine decides it. */
export function whoMayAnswer(inquiry: Inquiry): string | null {
  const parts: string[] = [];
  if (inquiry.users.length > 0) parts.push(`Only ${inquiry.users.join(', ')} may answer: the engine refuses anyone else.`);
  if (inquiry.roles.length > 0) parts.push(`Roles ${inquiry.roles.join(', ')} are recorded (this engine has no roles to check).`);
  return parts.length > 0 ? parts.join(' ') : null;
}

/**
 * The form for `inquiry`: its prompt (the schema's title and description),
 * a field per property, who may answer and when it times out. The answer is
 * sent as the console's user; the workflow goes on by itself once the engine
 * accepts it (the events update every view).
 */
export function inquiryForm(backend: Backend, inquiry: Inquiry, execution: Execution | null): HTMLFormElement {
  const prefix = `inquiry-${++forms}`;
  const fields = answerFields(inquiry.schema);
  const controls = new Map<string, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
  const rows = fields.map((f) => {
    const id = `${prefix}-${f.name}`;
    const input = control(id, f);
    controls.set(f.name, input);
    const label = h(
      'label',
      { for: id },
      f.label,
      f.required ? h('span', { class: 'required', title: 'required' }, ' *') : null,
      h('span', { class: 'type' }, ` ${typeHint(f)}`),
    );
    return h(
      'div',
      { class: f.kind === 'boolean' ? 'field checkbox' : 'field', 'data-field': f.name },
      label,
      input,
      h('small', { id: `${id}-error`, class: 'field-error', role: 'alert' }),
      h('small', { id: `${id}-help`, class: 'help' }, f.description),
    );
  });
  const title = inquiry.schema.title && inquiry.schema.title !== 'response_data' ? inquiry.schema.title : null;
  const expires = expiresAt(inquiry, execution);
  const who = whoMayAnswer(inquiry);
  const problem = h('p', { class: 'error inquiry-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Answer');
  const form = h(
    'form',
    { class: 'inquiry-form', 'aria-label': 'Answer', 'data-inquiry': inquiry.id, novalidate: true },
    title ? h('p', { class: 'inquiry-prompt inquiry-title' }, title) : null,
    inquiry.schema.description ? h('p', { class: 'inquiry-prompt' }, inquiry.schema.description) : null,
    rows.length === 0 ? h('p', { class: 'muted' }, 'The schema asks for nothing: the answer is empty.') : rows,
    h(
      'p',
      { class: 'muted inquiry-terms' },
      [inquiry.route ? `route ${inquiry.route}` : null, expires ? `times out at ${formatTime(expires)}` : 'never times out'].filter(Boolean).join(' · '),
    ),
    who ? h('p', { class: 'muted inquiry-who' }, who) : null,
    problem,
    h('div', { class: 'actions' }, submit),
  );

  function showErrors(errors: Record<string, string>): void {
    for (const f of fields) {
      const row = form.querySelector<HTMLElement>(`[data-field="${CSS.escape(f.name)}"]`);
      const message = errors[f.name] ?? '';
      row?.classList.toggle('invalid', message !== '');
      const slot = row?.querySelector('.field-error');
      if (slot) slot.textContent = message;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const raw: Record<string, RawValue> = {};
    for (const [name, input] of controls) raw[name] = input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked : input.value;
    const { response, errors } = readAnswer(fields, raw);
    showErrors(errors);
    problem.hidden = true;
    if (Object.keys(errors).length > 0) {
      controls.get(Object.keys(errors)[0] as string)?.focus();
      return;
    }
    submit.disabled = true;
    backend.respondInquiry(inquiry.id, response).then(
      () => {
        form.dataset['answered'] = 'true';
        form.replaceChildren(h('p', { class: 'inquiry-answered', role: 'status' }, 'Answered: the workflow goes on.'));
      },
      (error: unknown) => {
        submit.disabled = false;
        problem.textContent = BackendError.from(error).message;
        problem.hidden = false;
      },
    );
  });
  return form;
}
