// The newest record of each execution the page has heard of, from events and
// from answers alike. Events and answers race (an execution's completion
// event can arrive before the answer to the request that started it, over
// IPC as over HTTP), so a view that learns an id late takes what is known
// here, and a record read before a completion never undoes it.

import { isCompleted, type Execution } from './types';

/** Records kept (most recently changed last). */
const KEEP = 5000;

/** Which of two records of one execution is the more recent. */
export function newer(known: Execution | undefined, incoming: Execution): Execution {
  if (!known) return incoming;
  const a = isCompleted(known.status);
  const b = isCompleted(incoming.status);
  if (a !== b) return a ? known : incoming;
  // The status log only grows.
  if ((known.log?.length ?? 0) > (incoming.log?.length ?? 0)) return known;
  // A listing leaves the result out: keep the one that has it.
  if (a && b && known.result !== undefined && incoming.result === undefined) return known;
  return incoming;
}

export class ExecutionCache {
  private readonly records = new Map<string, Execution>();

  /** Folds a record in; returns the newest one known. */
  put(execution: Execution): Execution {
    const kept = newer(this.records.get(execution.id), execution);
    this.records.delete(execution.id);
    this.records.set(execution.id, kept);
    if (this.records.size > KEEP) {
      const oldest = this.records.keys().next().value;
      if (oldest !== undefined) this.records.delete(oldest);
    }
    return kept;
  }

  get(id: string): Execution | undefined {
    return this.records.get(id);
  }
}
