// Failure first: where a run failed and why, from the tree and the results.
// The header shows it; the tree opens on it.

import { FAILED, type TreeModel, type TreeNode } from './tree';
import type { Execution, Status } from './types';

export interface FailureSummary {
  /** The node below the root that failed; null when the run itself did. */
  node: TreeNode | null;
  /** `deploy > hosts[1] > restart`; empty when the run itself failed. */
  path: string;
  status: string;
  /** `exit code 1`, `killed: timeout`, an error message. */
  reason: string;
  /** The last lines of its stderr (or its error's detail). */
  tail: string;
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a negative return code means: the signal that ended it, and why. */
export function signalNote(code: number, status: Status | string): string | null {
  if (code >= 0) return null;
  if (code === -9) return status === 'timeout' ? 'killed: timeout' : status === 'canceled' ? 'killed: canceled' : 'killed (SIGKILL)';
  if (code === -15) return status === 'canceled' ? 'canceled' : status === 'timeout' ? 'terminated: timeout' : 'terminated (SIGTERM)';
  return `ended by signal ${-code}`;
}

function codeText(name: string, code: number, status: string): string {
  const note = signalNote(code, status);
  return note ? `${name} ${code} (${note})` : `${name} ${code}`;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 300 ? `${line.slice(0, 297)}…` : line;
}

/** The last `n` non-empty lines of `text`, at most `max` characters. */
export function tail(text: string, n = 6, max = 800): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const out = lines.slice(-n).join('\n');
  return out.length > max ? `…${out.slice(-max)}` : out;
}

/**
 * The per-host results of StackStorm's remote runners (`remote-shell-cmd`,
 * `remote-shell-script`, `winrm-*` on many hosts): `{"<host>": {"return_code",
 * "stdout", "stderr", "succeeded", "failed"}}`. Empty for any other result.
 */
function hostResults(result: Record<string, unknown>): [string, Record<string, unknown>][] {
  const entries = Object.entries(result);
  const hosts: [string, Record<string, unknown>][] = [];
  for (const [host, r] of entries) {
    if (!isObject(r) || !('return_code' in r || 'failed' in r)) return [];
    hosts.push([host, r]);
  }
  return hosts;
}

/** Why an execution failed, from its status and result: `exit code 2`, an error, a host's exit code, … */
export function failureReason(execution: Execution | null, status: string, error: string | null = null): { reason: string; tail: string } {
  if (error) return { reason: firstLine(error), tail: '' };
  const result = execution?.result;
  let reason = '';
  let detail = '';
  if (isObject(result)) {
    const stderr = typeof result['stderr'] === 'string' ? result['stderr'] : '';
    if (typeof result['return_code'] === 'number') reason = codeText('exit code', result['return_code'], status);
    else if (typeof result['exit_code'] === 'number') reason = codeText('exit code', result['exit_code'], status);
    else if (typeof result['status_code'] === 'number') reason = `HTTP status ${result['status_code']}`;
    if (typeof result['error'] === 'string') {
      reason = reason ? `${reason}: ${firstLine(result['error'])}` : firstLine(result['error']);
      if (!stderr && typeof result['traceback'] === 'string') detail = tail(result['traceback']);
    }
    const errors = Array.isArray(result['errors']) ? result['errors'] : [];
    if (!reason && errors.length > 0) {
      const e = errors[0];
      const inner = isObject(e) && isObject(e['result']) && typeof e['result']['error'] === 'string' ? (e['result']['error'] as string) : null;
      const message = inner ?? (isObject(e) && typeof e['message'] === 'string' ? e['message'] : JSON.stringify(e));
      const task = isObject(e) && typeof e['task_id'] === 'string' ? `task ${e['task_id']}: ` : '';
      reason = `${task}${firstLine(message)}`;
    }
    if (stderr) detail = tail(stderr);
    if (!reason) {
      const hosts = hostResults(result);
      const failed = hosts.filter(([, r]) => r['failed'] === true || (typeof r['return_code'] === 'number' && r['return_code'] !== 0));
      const first = failed[0];
      if (first) {
        const [host, r] = first;
        const which = failed.length === 1 && hosts.length === 1 ? `host ${host}` : `${failed.length} of ${hosts.length} hosts failed, first ${host}`;
        const code = typeof r['return_code'] === 'number' ? codeText('exit code', r['return_code'], status) : 'failed';
        const error = typeof r['error'] === 'string' ? `: ${firstLine(r['error'])}` : '';
        reason = `${which}: ${code}${error}`;
        const hostStderr = typeof r['stderr'] === 'string' ? r['stderr'] : '';
        detail = tail(hostStderr || (typeof r['traceback'] === 'string' ? r['traceback'] : ''));
      }
    }
  }
  if (!reason) {
    reason =
      status === 'timeout'
        ? 'timed out'
        : status === 'abandoned'
          ? 'abandoned: its runner went away without reporting'
          : status;
  }
  return { reason, tail: detail };
}

/** Where and why `root`'s run failed; null when it did not fail. */
export function summarizeFailure(model: TreeModel, root: Execution): FailureSummary | null {
  if (!FAILED.has(root.status)) return null;
  const top = model.root && model.root.key === root.id ? model.root : null;
  const node = top ? model.firstFailure(top) ?? top : null;
  const failed = node ?? null;
  const execution = failed ? failed.execution : root;
  const status = failed ? failed.status : root.status;
  const { reason, tail: detail } = failureReason(execution, status, failed?.error ?? null);
  // The run itself (no task below it failed): no path to point at.
  const itself = !failed || failed === top;
  return {
    node: itself ? null : failed,
    path: itself ? '' : model.path(failed),
    status,
    reason,
    tail: detail,
  };
}
