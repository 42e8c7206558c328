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
  /** The pack is a git repository: it has revisions to pick from. */
  git?: boolean;
}

export type RevisionKind = 'tag' | 'branch' | 'commit';

/** One revision of a git pack (`GET /v1/packs/{pack}/revisions`). */
export interface Revision {
  kind: RevisionKind;
  /** Tag or branch name, or the short SHA of a commit. */
  name: string;
  sha: string;
  /** Commit date, RFC 3339. */
  date: string;
  subject: string;
  /** The pack directory has this commit checked out. */
  checked_out: boolean;
}

export interface Revisions {
  pack: string;
  git: boolean;
  checked_out: { sha: string; name: string | null } | null;
  /** Tags (newest first), branches, then recent commits. */
  revisions: Revision[];
}

/** A workflow's definition at the execution's revision (`GET /v1/executions/{id}/graph`). */
export interface WorkflowGraph {
  tasks: GraphTask[];
}

export interface GraphTask {
  name: string;
  action: string | null;
  next: string[];
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

export const STATUSES: readonly Status[] = [
  'requested',
  'scheduled',
  'delayed',
  'running',
  'succeeded',
  'failed',
  'timeout',
  'abandoned',
  'canceling',
  'canceled',
  'pausing',
  'paused',
  'resuming',
  'pending',
];

/** Workflows are conducted by the engine; their tasks are child executions. */
export function isWorkflow(execution: Pick<Execution, 'runner'>): boolean {
  return execution.runner === 'orquesta' || execution.runner === 'action-chain';
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
  offset?: number;
  /** The revision asked for. */
  content_version?: string;
  /** RFC 3339 bounds on the start time. */
  since?: string;
  until?: string;
  /** Full text over action, parameters and result. */
  q?: string;
}

export interface ReRunRequest {
  /** Overrides of the original parameters. */
  parameters?: Record<string, unknown>;
  content_version?: string;
}

export interface RunRequest {
  action: string;
  parameters: Record<string, unknown>;
  content_version?: string;
}
