// Inquiries: a workflow asks a person (`core.ask`, the `inquirer` runner)
// and waits for an answer that matches a JSON schema. Here: the answer form's
// fields from the schema and the checks the form makes before it sends
// (the engine checks the answer again, with StackStorm's rules, and its
// message is shown when it refuses), and the open Inquiries the page knows
// of, kept live from the execution events.

import type { Backend } from './backend';
import { isCompleted, isPendingInquiry, type Execution, type Inquiry, type InquirySchema } from './types';

export type AnswerKind = 'boolean' | 'integer' | 'number' | 'string' | 'enum' | 'json';

/** One property of the answer. */
export interface AnswerField {
  name: string;
  kind: AnswerKind;
  /** StackStorm's Draft 3 `required: true` on the property. */
  required: boolean;
  label: string;
  description: string;
  /** For `enum`: the values, in the schema's order. */
  options: unknown[];
  default: unknown;
  minimum?: number;
  maximum?: number;
}

function typeOf(schema: InquirySchema): string {
  const t = schema.type;
  if (Array.isArray(t)) return t.find((x) => x !== 'null') ?? 'string';
  return t ?? 'string';
}

/** The answer's fields, in the schema's order of `properties`. */
export function answerFields(schema: InquirySchema): AnswerField[] {
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => {
    const type = typeOf(prop);
    const kind: AnswerKind =
      Array.isArray(prop.enum) && prop.enum.length > 0
        ? 'enum'
        : type === 'boolean' || type === 'integer' || type === 'number' || type === 'string'
          ? type
          : 'json';
    return {
      name,
      kind,
      // StackStorm's validator takes `properties` from Draft 3: any truthy `required`.
      required: !!prop.required && prop.required !== 'false',
      label: prop.title ?? name,
      description: prop.description ?? '',
      options: prop.enum ?? [],
      default: prop.default,
      minimum: typeof prop.minimum === 'number' ? prop.minimum : undefined,
      maximum: typeof prop.maximum === 'number' ? prop.maximum : undefined,
    };
  });
}

/** What a field's control holds: a checkbox's state, or the text typed (an enum: the option's index). */
export type RawValue = boolean | string;

export interface Answer {
  response: Record<string, unknown>;
  /** Per field name, what is wrong; empty when the answer may be sent. */
  errors: Record<string, string>;
}

/**
 * The answer from what the form holds, and what is wrong with it: a required
 * property left empty, a number that is not one (or not whole, or out of
 * `minimum`/`maximum`), JSON that does not parse. An empty optional field is
 * left out, so the engine fills in its default as StackStorm does.
 */
export function readAnswer(fields: AnswerField[], raw: Record<string, RawValue>): Answer {
  const response: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const value = raw[f.name];
    if (f.kind === 'boolean') {
      response[f.name] = value === true;
      continue;
    }
    const text = typeof value === 'string' ? value : '';
    if (text.trim() === '') {
      if (f.required) errors[f.name] = `${f.name} is required`;
      else if (f.kind === 'string' && text !== '') response[f.name] = text;
      continue;
    }
    switch (f.kind) {
      case 'enum': {
        const index = Number(text);
        if (!Number.isInteger(index) || index < 0 || index >= f.options.length) errors[f.name] = `${f.name}: pick one of the values offered`;
        else response[f.name] = f.options[index];
        break;
      }
      case 'integer':
      case 'number': {
        const n = Number(text.trim());
        if (!Number.isFinite(n)) errors[f.name] = `${f.name} must be a number`;
        else if (f.kind === 'integer' && !Number.isInteger(n)) errors[f.name] = `${f.name} must be a whole number`;
        else if (f.minimum !== undefined && n < f.minimum) errors[f.name] = `${f.name} must be at least ${f.minimum}`;
        else if (f.maximum !== undefined && n > f.maximum) errors[f.name] = `${f.name} must be at most ${f.maximum}`;
        else response[f.name] = n;
        break;
      }
      case 'json':
        try {
          response[f.name] = JSON.parse(text) as unknown;
        } catch {
          errors[f.name] = `${f.name} must be JSON (a list [..] or an object {..})`;
        }
        break;
      default:
        response[f.name] = text;
    }
  }
  return { response, errors };
}

/**
 * The top of the tree an execution belongs to: the last `execution_id` up its
 * `context.parent` chain (or the `root_id` the engine leaves where it cut a
 * deep chain); the execution itself when it has no parent.
 */
export function rootOf(execution: Execution): string {
  let root = execution.id;
  let at = execution.context?.['parent'] as Record<string, unknown> | undefined;
  // The chain is at most a few levels (the engine cuts it), but stop anyway.
  for (let depth = 0; at && typeof at === 'object' && depth < 64; depth++) {
    if (typeof at['execution_id'] === 'string') root = at['execution_id'];
    if (typeof at['root_id'] === 'string') root = at['root_id'];
    at = at['parent'] as Record<string, unknown> | undefined;
  }
  return root;
}

/** An open Inquiry as the page knows it: the Inquiry once read, and its execution once seen. */
export interface OpenInquiry {
  id: string;
  inquiry: Inquiry | null;
  execution: Execution | null;
}

/**
 * The open Inquiries, from a listing (at start and after missed events) and
 * from the execution events: an `inquirer` execution that goes `pending`
 * opens one, its completion (answered, timed out, canceled) closes it.
 * Events and listings race; a listing never reopens what an event closed,
 * nor closes what an event opened after the listing was asked for.
 */
export class InquiryTracker {
  private readonly open = new Map<string, OpenInquiry & { since: number }>();
  private readonly closed = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private readonly newListeners = new Set<(entry: OpenInquiry) => void>();
  private generation = 0;

  constructor(private readonly backend: Backend) {}

  get count(): number {
    return this.open.size;
  }

  /** Newest first. */
  list(): OpenInquiry[] {
    return [...this.open.values()].reverse();
  }

  get(id: string): OpenInquiry | undefined {
    return this.open.get(id);
  }

  /** Called after every change of the set (or of what is known of one). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when an Inquiry opens while the page watches (not for those found by a listing). */
  onNew(listener: (entry: OpenInquiry) => void): () => void {
    this.newListeners.add(listener);
    return () => this.newListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private add(id: string, execution: Execution | null, inquiry: Inquiry | null): OpenInquiry {
    const known = this.open.get(id);
    if (known) {
      if (execution) known.execution = execution;
      if (inquiry) known.inquiry = inquiry;
      return known;
    }
    const entry = { id, execution, inquiry, since: this.generation };
    this.open.set(id, entry);
    if (!inquiry) {
      this.backend.getInquiry(id).then(
        (read) => {
          if (this.open.get(id) !== entry) return;
          entry.inquiry = read;
          this.changed();
        },
        () => {
          // Answered or timed out meanwhile: its completion event closes it.
        },
      );
    }
    if (!execution) {
      this.backend.getExecution(id).then(
        (read) => this.observe(read),
        () => {},
      );
    }
    return entry;
  }

  /** Every execution change (the newest record of it). */
  observe(execution: Execution): void {
    if (execution.runner.name !== 'inquirer') return;
    if (isPendingInquiry(execution)) {
      if (this.closed.has(execution.id)) return;
      const fresh = !this.open.has(execution.id);
      const entry = this.add(execution.id, execution, null);
      if (fresh) for (const listener of [...this.newListeners]) listener(entry);
      this.changed();
    } else if (isCompleted(execution.status)) {
      this.closed.add(execution.id);
      if (this.open.delete(execution.id)) this.changed();
    }
  }

  /** Reads the open Inquiries from the engine (at start, after missed events). */
  async load(): Promise<void> {
    const asked = ++this.generation;
    const listed = await this.backend.listInquiries();
    const ids = new Set(listed.map((i) => i.id));
    for (const [id, entry] of this.open) if (!ids.has(id) && entry.since < asked) this.open.delete(id);
    // The listing is newest first; the map keeps the oldest first.
    for (const inquiry of [...listed].reverse()) if (!this.closed.has(inquiry.id)) this.add(inquiry.id, null, inquiry);
    this.changed();
  }
}
