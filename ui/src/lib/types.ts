// Shapes of the engine's DTOs as they cross the IPC/HTTP boundary (snake_case,
// as serde writes them). Kept by hand in step with crates/engine.

/** The one error shape across the boundary. */
export interface ErrorBody {
  code: string;
  message: string;
}

export interface UnsupportedSummary {
  name: string;
  file: string;
  reason: string;
}

export interface PackSummary {
  ref: string;
  name: string;
  description: string | null;
  version: string | null;
  path: string;
  actions: number;
  unsupported: UnsupportedSummary[];
}

export interface ActionSummary {
  ref: string;
  pack: string;
  name: string;
  runner_type: string;
  description: string | null;
  enabled: boolean;
  supported: boolean;
  unsupported_reason: string | null;
}

/** One parameter of an action's schema (StackStorm metadata). */
export interface ParamSpec {
  type?: string;
  description?: string | null;
  default?: unknown;
  required?: boolean;
  immutable?: boolean;
  secret?: boolean;
  enum?: unknown[] | null;
  position?: number | null;
}

export interface ActionDetail extends ActionSummary {
  entry_point: string | null;
  /** In metadata order. */
  parameters: Record<string, ParamSpec>;
}

export type Status =
  | 'requested'
  | 'scheduled'
  | 'delayed'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timeout'
  | 'abandoned'
  | 'canceling'
  | 'canceled'
  | 'pausing'
  | 'paused'
  | 'resuming'
  | 'pending';

const COMPLETED: ReadonlySet<Status> = new Set<Status>([
  'succeeded',
  'failed',
  'timeout',
  'canceled',
  'abandoned',
]);

export function isCompleted(status: Status): boolean {
  return COMPLETED.has(status);
}

export interface StatusLogEntry {
  status: Status;
  timestamp: string;
}

export interface Execution {
  id: string;
  /** Action ref, `pack.name`. */
  action: string;
  runner: string;
  /** Secrets are masked. */
  parameters: Record<string, unknown>;
  status: Status;
  start_timestamp: string;
  end_timestamp: string | null;
  elapsed_seconds: number | null;
  result: unknown;
  content_version: string | null;
  commit: string | null;
  parent: string | null;
  children: string[];
  context: Record<string, unknown>;
  log: StatusLogEntry[];
}

export interface OutputChunk {
  /** Per execution, from 0, gap-free. */
  seq: number;
  stream: 'stdout' | 'stderr' | 'other';
  data: string;
  timestamp: string;
}

export interface ExecutionFilter {
  status?: Status;
  action?: string;
  pack?: string;
  parent?: string;
  roots_only?: boolean;
  limit?: number;
}

export interface RunRequest {
  action: string;
  parameters: Record<string, unknown>;
  content_version?: string;
}
