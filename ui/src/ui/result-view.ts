// An execution's result, laid out for its runner (StackStorm's result
// objects): shell and Python return code and streams, HTTP status, headers and
// body, remote runs as a per-host table, workflows' output and errors. The
// raw JSON is always one click away.

import { signalNote } from '../lib/failure';
import { copyText } from '../lib/save';
import type { Execution } from '../lib/types';
import { h } from './dom';
import { icon } from './icons';

export interface ResultOptions {
  /** A workflow error names a task: show it (select it in the tree). */
  onTask?: (task: string) => void;
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text as is; anything else (streams parsed as JSON, objects) pretty-printed. */
function show(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function block(title: string, value: unknown, cls = ''): HTMLElement | null {
  const text = show(value);
  if (text === '') return null;
  return h('div', { class: 'result-block' }, h('h4', {}, title), h('pre', { class: `result-text ${cls}`.trim(), 'data-part': title }, text));
}

function fact(name: string, value: unknown, tone?: string): HTMLElement {
  return h('span', { class: `fact${tone ? ` ${tone}` : ''}`, 'data-fact': name }, h('span', { class: 'muted' }, `${name} `), h('strong', {}, show(value)));
}

/** A return code with what a negative one means (`-9 (killed: timeout)`). */
function code(value: unknown, status: string): string {
  if (typeof value !== 'number') return show(value);
  const note = signalNote(value, status);
  return note ? `${value} (${note})` : String(value);
}

function shell(result: Obj, status: string): HTMLElement[] {
  const ok = result['succeeded'] === true;
  return [
    h('div', { class: 'facts' }, fact('return code', code(result['return_code'], status), ok ? 'ok' : 'bad')),
    block('stdout', result['stdout']),
    block('stderr', result['stderr'], 'stderr'),
  ].filter((x): x is HTMLElement => x !== null);
}

function python(result: Obj, status: string): HTMLElement[] {
  const exit = result['exit_code'];
  return [
    h('div', { class: 'facts' }, fact('exit code', code(exit, status), exit === 0 ? 'ok' : 'bad')),
    block('result', result['result']),
    block('stdout', result['stdout']),
    block('stderr', result['stderr'], 'stderr'),
  ].filter((x): x is HTMLElement => x !== null);
}

function http(result: Obj): HTMLElement[] {
  const status = result['status_code'];
  const headers = isObject(result['headers']) ? result['headers'] : {};
  const good = typeof status === 'number' && status < 400;
  return [
    h('div', { class: 'facts' }, fact('status', status, good ? 'ok' : 'bad')),
    Object.keys(headers).length > 0
      ? h(
          'details',
          { class: 'result-block' },
          h('summary', {}, `headers (${Object.keys(headers).length})`),
          h(
            'table',
            { class: 'kv' },
            Object.entries(headers).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, show(v)))),
          ),
        )
      : null,
    block('body', result['parsed'] ?? result['body']),
  ].filter((x): x is HTMLElement => x !== null);
}

function isHostResult(value: unknown): value is Obj {
  return isObject(value) && 'return_code' in value && ('stdout' in value || 'stderr' in value);
}

function remote(result: Obj): HTMLElement[] {
  const hosts = Object.entries(result).filter(([, v]) => isHostResult(v)) as [string, Obj][];
  return [
    h(
      'table',
      { class: 'hosts', 'aria-label': 'Per-host results' },
      h('thead', {}, h('tr', {}, h('th', {}, 'host'), h('th', {}, ''), h('th', {}, 'rc'), h('th', {}, 'stdout'), h('th', {}, 'stderr'))),
      h(
        'tbody',
        {},
        hosts.map(([host, r]) =>
          h(
            'tr',
            { 'data-host': host, class: r['succeeded'] === true ? 'ok' : 'bad' },
            h('th', {}, host),
            h('td', { class: 'icon' }, r['succeeded'] === true ? '✓' : '✗'),
            h('td', {}, code(r['return_code'], r['succeeded'] === true ? 'succeeded' : 'failed')),
            h('td', {}, h('pre', {}, show(r['stdout']))),
            h('td', {}, h('pre', { class: 'stderr' }, show(r['stderr']))),
          ),
        ),
      ),
    ),
  ];
}

function workflow(result: Obj, options: ResultOptions): HTMLElement[] {
  const errors = Array.isArray(result['errors']) ? result['errors'] : [];
  return [
    block('output', result['output']),
    errors.length > 0
      ? h(
          'div',
          { class: 'result-block' },
          h('h4', {}, `errors (${errors.length})`),
          h(
            'ul',
            { class: 'errors' },
            errors.map((e) => {
              const task = isObject(e) && typeof e['task_id'] === 'string' ? e['task_id'] : isObject(e) && typeof e['task'] === 'string' ? e['task'] : null;
              const message = isObject(e) && typeof e['message'] === 'string' ? e['message'] : show(e);
              const link =
                task && options.onTask
                  ? h('button', { type: 'button', class: 'link task-link', 'data-task': task, title: `Show task ${task}`, onClick: () => options.onTask?.(task) }, task)
                  : task;
              return h('li', { class: 'error' }, link, task ? ': ' : '', message);
            }),
          ),
        )
      : null,
  ].filter((x): x is HTMLElement => x !== null);
}

/** Which layout a result gets, from its runner and, failing that, its shape. */
export function resultKind(runner: string, result: unknown): 'shell' | 'python' | 'http' | 'remote' | 'workflow' | 'raw' {
  if (!isObject(result)) return 'raw';
  if (runner === 'orquesta' || runner === 'action-chain' || ('output' in result && 'errors' in result)) return 'workflow';
  if (runner === 'python-script' || 'exit_code' in result) return 'python';
  if (runner === 'http-request' || 'status_code' in result) return 'http';
  if (runner.startsWith('remote-') || runner.startsWith('windows-')) return 'remote';
  if ('return_code' in result) return 'shell';
  const values = Object.values(result);
  if (values.length > 0 && values.every(isHostResult)) return 'remote';
  return 'raw';
}

export function resultView(execution: Execution, options: ResultOptions = {}): HTMLElement {
  const result = execution.result;
  const kind = resultKind(execution.runner.name, result);
  const parts: HTMLElement[] = [];
  if (isObject(result)) {
    switch (kind) {
      case 'shell':
        parts.push(...shell(result, execution.status));
        break;
      case 'python':
        parts.push(...python(result, execution.status));
        break;
      case 'http':
        parts.push(...http(result));
        break;
      case 'remote':
        parts.push(...remote(result));
        break;
      case 'workflow':
        parts.push(...workflow(result, options));
        break;
      default:
        break;
    }
  }
  const json = result === null || result === undefined ? 'null' : JSON.stringify(result, null, 2);
  const raw = h('pre', { class: 'result-json' }, json);
  const copied = h('span', { class: 'muted', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'icon-button small',
      title: 'Copy the result as JSON',
      'aria-label': 'Copy result',
      onClick: () => void copyText(json).then((ok) => (copied.textContent = ok ? 'Copied' : 'Copy is not allowed here')),
    },
    icon('copy'),
  );
  return h(
    'div',
    { class: `result-view ${kind}`, 'data-kind': kind, 'aria-label': 'Result' },
    h('div', { class: 'result-tools' }, copy, copied),
    parts,
    kind === 'raw' ? raw : h('details', { class: 'raw' }, h('summary', {}, 'JSON'), raw),
  );
}
