// Parameter forms from an action's schema: which fields to show, in what
// order, and how typed input becomes the `parameters` object of a run.

import type { ParamSpec } from './types';

export interface Field {
  name: string;
  spec: ParamSpec;
}

/**
 * The fields a user fills in: immutable parameters are hidden (the action
 * fixes them), the rest ordered by `position`, then required first, then name.
 */
export function formFields(parameters: Record<string, ParamSpec>): Field[] {
  return Object.entries(parameters)
    .filter(([, spec]) => !spec.immutable)
    .map(([name, spec]) => ({ name, spec }))
    .sort(compareFields);
}

function compareFields(a: Field, b: Field): number {
  const pa = a.spec.position ?? Number.POSITIVE_INFINITY;
  const pb = b.spec.position ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  const ra = a.spec.required ? 0 : 1;
  const rb = b.spec.required ? 0 : 1;
  if (ra !== rb) return ra - rb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export type Widget = 'text' | 'password' | 'integer' | 'number' | 'boolean' | 'select' | 'json';

export function widgetFor(spec: ParamSpec): Widget {
  if (spec.enum && spec.enum.length > 0) return 'select';
  if (spec.secret) return 'password';
  switch (spec.type) {
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
    case 'object':
      return 'json';
    default:
      return 'text';
  }
}

export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

/**
 * Converts one field's raw input into its parameter value. `undefined` means
 * "not given": the engine then applies the default (and renders templates).
 */
export function parseField(field: Field, raw: string | boolean): unknown {
  const { name, spec } = field;
  const widget = widgetFor(spec);
  if (widget === 'boolean') {
    const value = raw === true;
    // Only send what differs from the default, so template defaults still apply.
    return value === (spec.default === true) && !spec.required ? undefined : value;
  }
  const text = typeof raw === 'string' ? raw : String(raw);
  if (text.trim() === '') {
    if (spec.required && (spec.default === undefined || spec.default === null)) {
      throw new FieldError(name, `${name} is required`);
    }
    return undefined;
  }
  switch (widget) {
    case 'select': {
      // Enum values may be numbers or booleans: send the original value.
      const option = (spec.enum ?? []).find((v) => String(v) === text);
      return option === undefined ? text : option;
    }
    case 'integer': {
      const value = Number(text);
      if (!Number.isInteger(value)) throw new FieldError(name, `${name} must be a whole number`);
      return value;
    }
    case 'number': {
      const value = Number(text);
      if (!Number.isFinite(value)) throw new FieldError(name, `${name} must be a number`);
      return value;
    }
    case 'json': {
      const trimmed = text.trim();
      if (spec.type === 'array' && !trimmed.startsWith('[')) {
        return trimmed.split(',').map((item) => item.trim());
      }
      // StackStorm also takes `key1=val1,key2=val2` for objects: the engine casts it.
      if (spec.type === 'object' && !trimmed.startsWith('{')) return trimmed;
      try {
        return JSON.parse(trimmed);
      } catch {
        throw new FieldError(name, `${name} must be JSON (${spec.type ?? 'value'})`);
      }
    }
    default:
      return text;
  }
}

/**
 * The runner parameter that picks the pack revision. Its value travels as the
 * run's `content_version`, which the engine resolves to a commit, not as a parameter.
 */
export const CONTENT_VERSION = 'content_version';

/**
 * The default shown as a placeholder (never for secrets): `default: 3`, so
 * it does not read as a value already filled in.
 */
export function defaultHint(spec: ParamSpec): string {
  if (spec.secret || spec.default === undefined || spec.default === null) return '';
  const text = typeof spec.default === 'string' ? spec.default : JSON.stringify(spec.default);
  return text === '' ? '' : `default: ${text}`;
}

/**
 * Parameters every action of a runner type has (StackStorm's runner
 * parameters): shown folded under "Runner options" unless required, so the
 * action's own parameters come first. Besides these names, any parameter the
 * action does not declare itself came from its runner (see `formFields`'s
 * caller) and is folded too.
 */
const RUNNER_OPTIONS = new Set([
  'notify',
  'skip_notify',
  'cwd',
  'env',
  'kwarg_op',
  'sudo',
  'sudo_password',
  'timeout',
  'log_level',
  'debug',
  'parallel',
  'dir',
  'port',
  'username',
  'private_key',
  'passphrase',
  'bastion_host',
]);

export function isRunnerOption(field: Field, declared?: ReadonlySet<string>): boolean {
  if (field.spec.required) return false;
  return RUNNER_OPTIONS.has(field.name) || (declared !== undefined && !declared.has(field.name));
}
