// Shapes of the engine's DTOs as they cross the IPC/HTTP boundary (snake_case,
// as serde writes them): StackStorm's API shapes (ActionExecutionAPI, ActionAPI,
// PackAPI, ...), the same over the desktop's IPC and the HTTP API. Kept by hand
// in step with crates/engine and docs/openapi.yaml.

/** The one error shape across the boundary: StackStorm's `faultstring` and Stormdesk's `code`. */
export interface ErrorBody {
  code: string;
  faultstring: string;
}

export interface UnsupportedSummary {
  name: string;
  file: string;
  reason: string;
}

/** StackStorm's PackAPI, with Stormdesk's `path`, `git`, `actions` (a count), `unsupported`, `errors`, `ignored`, `shadows`. */
export interface PackSummary {
  id: string;
  ref: string;
  name: string;
  description?: string;
  version?: string;
  author?: string;
  path: string;
  actions: number;
  unsupported: UnsupportedSummary[];
  /** The pack is a git repository: it has revisions to pick from. */
  git?: boolean;
  /** Action metadata files that did not load: `file:line:column: message`. */
  errors?: string[];
  /** Sensors, rules, aliases, policies Stormdesk does not run, with the reason. */
  ignored?: string[];
  /** The directory of a pack of the same name this one hides. */
  shadows?: string | null;
  /** Why its Python environment could not be made, the last time it was tried (its Python actions cannot run). */
  python_env_error?: string | null;
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
  /** The URL of the pack's `origin` remote (where updates come from), when it has one. */
  origin?: string | null;
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

/** StackStorm's ActionAPI, with Stormdesk's `supported` and `unsupported_reason`. */
export interface ActionSummary {
  id: string;
  uid: string;
  ref: string;
  pack: string;
  name: string;
  runner_type: string;
  description?: string;
  enabled: boolean;
  /** Relative to the pack's `actions/`; empty for none. */
  entry_point: string;
  /** As the action declares them (the overview merges the runner's in). */
  parameters: Record<string, ParamSpec>;
  supported: boolean;
  unsupported_reason?: string;
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

/** The action overview (`/v1/actions/views/overview/{ref}`): parameters with the runner's merged in, in metadata order. */
export type ActionDetail = ActionSummary;

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
  return execution.runner.name === 'orquesta' || execution.runner.name === 'action-chain';
}

export interface StatusLogEntry {
  status: Status;
  timestamp: string;
}

/** The action as an execution embeds it. */
export interface ExecutionAction {
  id: string;
  /** `pack.name`. */
  ref: string;
  uid: string;
  name: string;
  pack: string;
  runner_type: string;
  description?: string;
  enabled: boolean;
  entry_point: string;
}

/** One execution: StackStorm's ActionExecutionAPI. Absent fields are absent, not null. */
export interface Execution {
  id: string;
  action: ExecutionAction;
  runner: { name: string; id?: string; uid?: string; enabled?: boolean; runner_module?: string };
  liveaction_id?: string;
  /** Secrets are masked; Stormdesk's `content_version` is the revision asked for. */
  parameters: Record<string, unknown>;
  status: Status;
  start_timestamp: string;
  end_timestamp?: string;
  elapsed_seconds?: number;
  web_url?: string;
  /** Absent until the execution completes, and in listings. */
  result?: unknown;
  parent?: string;
  children: string[];
  /** `user`, `pack`, `orquesta` (a workflow task's `task_name`, `item_id`, ...), `parent`, Stormdesk's `commit`. */
  context: Record<string, unknown>;
  log: StatusLogEntry[];
}

/** `pack.name` of the execution's action. */
export function actionRef(execution: Execution): string {
  return execution.action.ref;
}

/** The revision asked for (`parameters.content_version`). */
export function contentVersion(execution: Execution): string | null {
  const value = execution.parameters?.['content_version'];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** The commit the run used (`context.commit`). */
export function commitOf(execution: Execution): string | null {
  const value = execution.context?.['commit'];
  return typeof value === 'string' ? value : null;
}

function orquesta(execution: Execution): Record<string, unknown> {
  const value = execution.context?.['orquesta'];
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** The workflow task this execution runs for (`context.orquesta.task_name`; an ActionChain's link: `context.chain.name`). */
export function taskName(execution: Execution): string | null {
  const value = orquesta(execution)['task_name'];
  if (typeof value === 'string') return value;
  const link = execution.context?.['chain'] as { name?: unknown } | undefined;
  return typeof link?.name === 'string' ? link.name : null;
}

/** A with-items task's item index (`context.orquesta.item_id`). */
export function itemIndex(execution: Execution): number | null {
  const value = orquesta(execution)['item_id'];
  return typeof value === 'number' ? value : null;
}

/** A task's retry attempt (`context.orquesta.attempt`, Stormdesk's): 0 for the first try. */
export function attemptOf(execution: Execution): number | null {
  const value = orquesta(execution)['attempt'];
  return typeof value === 'number' ? value : null;
}

/** How many items the with-items task has (`context.orquesta.items_count`, Stormdesk's). */
export function itemsCount(execution: Execution): number | null {
  const value = orquesta(execution)['items_count'];
  return typeof value === 'number' ? value : null;
}

/** Who ran it (`context.user`; a workflow's tasks carry the workflow's user). */
export function userOf(execution: Execution): string | null {
  const value = execution.context?.['user'];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** One piece of output: StackStorm's ActionExecutionOutputAPI with Stormdesk's `seq`. */
export interface OutputChunk {
  execution_id: string;
  action_ref: string;
  runner_ref: string;
  /** Per execution, from 0, gap-free. */
  seq: number;
  output_type: 'stdout' | 'stderr' | 'output';
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
  /** Leave results out (the HTTP API does unless asked): listings stay light. */
  exclude_result?: boolean;
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

/**
 * An open Inquiry: StackStorm's `InquiryResponseAPI` (`GET /v1/inquiries`),
 * the pending execution of the `inquirer` runner (`core.ask`) that holds it.
 */
export interface Inquiry {
  /** The execution's id. */
  id: string;
  route: string;
  /** Minutes from its start until it times out; 0 or less: never. */
  ttl: number;
  /** Who may answer (empty: anyone); the engine refuses others. */
  users: string[];
  /** Recorded as StackStorm does; Stormdesk has no RBAC to check them against. */
  roles: string[];
  schema: InquirySchema;
}

/**
 * The part of an Inquiry's JSON schema the answer form reads. As in
 * StackStorm, a property is required when it says `required: true` (Draft 3
 * style); an object-level `required` list is not checked by the engine.
 */
export interface InquirySchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, InquirySchema & { required?: unknown }>;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

/** The execution of the `inquirer` runner, waiting for its answer. */
export function isPendingInquiry(execution: Pick<Execution, 'runner' | 'status'>): boolean {
  return execution.runner.name === 'inquirer' && execution.status === 'pending';
}
