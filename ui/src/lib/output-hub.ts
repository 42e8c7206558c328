// Output that never drops a line: one ordered log per execution, merged
// from the live events (`Backend.onOutput`) and, only where they cannot be
// enough, the recorded backlog (`Backend.output`), keyed by the chunk's
// `seq` (per execution, from 0, gap-free). Every view reads output through
// here, over either transport.
//
// The stream is the source; the store fills gaps. The engine stores a chunk
// before it publishes it, and an execution prints nothing before it runs.
// So once the stream has delivered an event, everything published after it
// arrives too (until a reconnect, which the backend reports as a resync):
// - an execution the stream showed before it ran (its record `scheduled`,
//   never `running`), or whose chunk 0 came live, has all its output on the
//   stream: no read, ever (a *clean* log);
// - any other log is read once from the store, after the last seq held (a
//   task that started before the page subscribed); a read started while the
//   stream was live makes the log clean;
// - a live chunk past the next expected seq (a gap), a resync, or the
//   completion of a log that is not clean read the store again.
// A workflow of 10,000 tasks watched from its start costs no output request
// at all; opened mid-run, one per task whose output is shown and that
// started before (bounded by the view, see ui/node-details.ts).
//
// Memory: chunks are held for executions someone follows, plus a bounded
// number of idle logs (most recently used; the live output of tasks nobody
// opened yet, so opening one needs no request). A log let go is read again
// from the store when opened.

import type { Unsubscribe } from './backend';
import type { Execution, OutputChunk, Status } from './types';

/**
 * Receives chunks in `seq` order, each once; the first call has everything
 * held so far. An empty call says the recorded backlog has been read (so a
 * view can tell "no output" from "not read yet").
 */
export type OutputListener = (chunks: OutputChunk[]) => void;

/** What the hub needs of a backend. */
export interface OutputSource {
  output(id: string, afterSeq?: number): Promise<OutputChunk[]>;
}

/** Limits (defaults for the console; tests may lower them). */
export interface OutputHubLimits {
  /** Backlog reads in flight at once. */
  parallelReads: number;
  /** Logs kept without a subscriber (the least recently used go first). */
  idleLogs: number;
  /** Characters of output held in logs without a subscriber. */
  idleChars: number;
  /** Executions remembered as clean without a log (their ids only). */
  streamedIds: number;
}

const DEFAULT_LIMITS: OutputHubLimits = {
  parallelReads: 6,
  idleLogs: 2000,
  idleChars: 4_000_000,
  streamedIds: 100_000,
};

/** Statuses before an execution runs (it has printed nothing yet). */
const BEFORE_RUNNING: ReadonlySet<Status> = new Set<Status>(['requested', 'scheduled', 'delayed', 'pending']);

/** Whether `execution` has not run yet: so it has no output, stored or published. */
export function neverRan(execution: Execution): boolean {
  if (!BEFORE_RUNNING.has(execution.status)) return false;
  return !(execution.log ?? []).some((entry) => !BEFORE_RUNNING.has(entry.status));
}

class Log {
  /** Contiguous from seq 0. */
  readonly chunks: OutputChunk[] = [];
  /** Chunks past a gap, by seq. */
  readonly ahead = new Map<number, OutputChunk>();
  readonly listeners = new Set<OutputListener>();
  /** A backlog read is in flight or queued. */
  reading = false;
  /** Read again when the one in flight ends (new gap, completion). */
  again = false;
  /** The backlog has been read once, or the log is clean (nothing to read). */
  loaded = false;
  readonly loadedWaiters: (() => void)[] = [];
  /** Every chunk past `next` reaches the hub through the stream. */
  clean = false;
  /** Characters of output held. */
  chars = 0;

  constructor(readonly id: string) {}

  get next(): number {
    return this.chunks.length;
  }
}

export class OutputHub {
  private readonly logs = new Map<string, Log>();
  /** Clean executions without a log (nothing held), oldest first. */
  private readonly streamed = new Set<string>();
  private readonly queue: Log[] = [];
  private readonly limits: OutputHubLimits;
  private reads = 0;
  /** Backlog reads made (a figure for tests and benchmarks). */
  private readsMade = 0;
  /** The stream has delivered an event: it is connected. */
  private streamLive = false;
  /** Bumped by each resync: a read that started before one proves nothing. */
  private epoch = 0;
  /** Logs without a subscriber, and the characters they hold. */
  private idle = 0;
  private idleChars = 0;
  /** A trim is due at the end of this turn (a view that lets go and follows again keeps its logs). */
  private trimDue = false;

  constructor(
    private readonly source: OutputSource,
    limits: Partial<OutputHubLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Backlog reads made so far. */
  get readCount(): number {
    return this.readsMade;
  }

  /** Logs held now (followed or idle). */
  get logCount(): number {
    return this.logs.size;
  }

  /** Whether `id`'s output reaches the hub from the stream alone (following it costs no read). */
  streams(id: string): boolean {
    const log = this.logs.get(id);
    if (log) return log.clean && log.ahead.size === 0;
    return this.streamed.has(id);
  }

  /**
   * A record the event stream delivered (never an answer to a request): an
   * execution that has not run yet has all its output still to come, live.
   */
  observe(execution: Execution): void {
    this.streamLive = true;
    if (!neverRan(execution)) return;
    const log = this.logs.get(execution.id);
    if (log) log.clean = true;
    else this.remember(execution.id);
  }

  /** A live chunk (every one the backend delivers goes here). */
  live(chunk: OutputChunk): void {
    this.streamLive = true;
    const id = chunk.execution_id;
    let log = this.logs.get(id);
    // A server that does not number its output (StackStorm): the event says
    // there is more; the backlog read brings it, in order.
    if (typeof chunk.seq !== 'number') {
      this.streamed.delete(id);
      if (log) {
        log.clean = false;
        if (log.listeners.size > 0) this.catchUp(log);
      }
      return;
    }
    if (!log) {
      // Held only when it starts a clean log; otherwise the store has it
      // for whoever opens it.
      if (chunk.seq !== 0 && !this.streamed.has(id)) return;
      this.streamed.delete(id);
      log = this.create(id);
      log.clean = true;
    }
    this.add(log, [chunk]);
    if (log.ahead.size > 0 && log.listeners.size > 0) this.catchUp(log);
    if (log.listeners.size === 0) this.trim();
  }

  /** The execution completed: a log the stream may not have all of reads what is left. */
  completed(id: string): void {
    const log = this.logs.get(id);
    if (log && log.listeners.size > 0 && (!log.clean || log.ahead.size > 0)) this.catchUp(log);
  }

  /** Events may have been missed (stream reconnected, UI fell behind): catch every followed log up. */
  resync(): void {
    this.epoch++;
    this.streamed.clear();
    for (const log of this.logs.values()) {
      log.clean = false;
      if (log.listeners.size > 0) this.catchUp(log);
    }
  }

  /**
   * Follows one execution's output: `listener` gets what is held at once
   * (when there is any, or an empty call when the log is complete as held),
   * then every further chunk in order.
   */
  subscribe(id: string, listener: OutputListener): Unsubscribe {
    let log = this.logs.get(id);
    if (log) {
      // Most recently used last.
      this.logs.delete(id);
      this.logs.set(id, log);
    } else {
      log = this.create(id);
      if (this.streamed.delete(id)) log.clean = true;
    }
    if (log.listeners.size === 0) {
      this.idle--;
      this.idleChars -= log.chars;
    }
    log.listeners.add(listener);
    if (log.clean && log.ahead.size === 0) {
      // Everything there is, is here: no read.
      this.markLoaded(log);
      listener(log.chunks.slice());
    } else {
      if (log.chunks.length > 0) listener(log.chunks.slice());
      this.catchUp(log);
    }
    const theLog = log;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      theLog.listeners.delete(listener);
      if (theLog.listeners.size === 0 && this.logs.get(theLog.id) === theLog) {
        this.idle++;
        this.idleChars += theLog.chars;
      }
      this.trimLater();
    };
  }

  /** Everything held for `id` so far (a copy). */
  chunks(id: string): OutputChunk[] {
    return this.logs.get(id)?.chunks.slice() ?? [];
  }

  /** Whether `id`'s backlog has been read at least once (or needs no read). */
  loaded(id: string): boolean {
    return this.logs.get(id)?.loaded ?? false;
  }

  /** Resolves once `id`'s backlog has been read (it must be subscribed). */
  whenLoaded(id: string): Promise<void> {
    const log = this.logs.get(id);
    if (!log || log.loaded) return Promise.resolve();
    return new Promise((resolve) => log.loadedWaiters.push(resolve));
  }

  private create(id: string): Log {
    const log = new Log(id);
    this.logs.set(id, log);
    this.idle++;
    return log;
  }

  /** Remembers a clean execution without a log (bounded: the oldest is forgotten, and read when opened). */
  private remember(id: string): void {
    this.streamed.delete(id);
    this.streamed.add(id);
    if (this.streamed.size > this.limits.streamedIds) {
      const oldest = this.streamed.values().next().value;
      if (oldest !== undefined) this.streamed.delete(oldest);
    }
  }

  private markLoaded(log: Log): void {
    if (log.loaded) return;
    log.loaded = true;
    for (const resolve of log.loadedWaiters.splice(0)) resolve();
  }

  private add(log: Log, chunks: OutputChunk[]): void {
    const fresh: OutputChunk[] = [];
    const push = (chunk: OutputChunk): void => {
      log.chunks.push(chunk);
      fresh.push(chunk);
      const n = chunk.data.length;
      log.chars += n;
      if (log.listeners.size === 0) this.idleChars += n;
    };
    for (const chunk of chunks) {
      if (chunk.seq < log.next) continue;
      if (chunk.seq > log.next) {
        log.ahead.set(chunk.seq, chunk);
        continue;
      }
      push(chunk);
      // Chunks held aside that now follow on.
      for (let c = log.ahead.get(log.next); c; c = log.ahead.get(log.next)) {
        log.ahead.delete(c.seq);
        push(c);
      }
    }
    if (fresh.length === 0) return;
    for (const listener of [...log.listeners]) listener(fresh);
  }

  private catchUp(log: Log): void {
    if (log.reading) {
      log.again = true;
      return;
    }
    log.reading = true;
    log.again = false;
    this.queue.push(log);
    this.pump();
  }

  private pump(): void {
    while (this.reads < this.limits.parallelReads && this.queue.length > 0) {
      const log = this.queue.shift() as Log;
      if (this.logs.get(log.id) !== log) {
        log.reading = false;
        continue;
      }
      this.reads++;
      this.readsMade++;
      // A read made while the stream is connected sees every chunk published
      // before it; the stream brings the rest.
      const proves = this.streamLive;
      const epoch = this.epoch;
      const after = log.next > 0 ? log.next - 1 : undefined;
      this.source
        .output(log.id, after)
        .then(
          (chunks) => {
            this.add(log, chunks);
            if (proves && epoch === this.epoch) log.clean = true;
            // Anything still held aside is past what the store had: ahead of
            // it only until the store catches up, so read once more.
            if (log.ahead.size > 0 && chunks.length > 0) log.again = true;
          },
          () => {
            // Not readable now (engine restarting): the next event or resync reads again.
          },
        )
        .finally(() => {
          this.reads--;
          log.reading = false;
          if (!log.loaded) {
            this.markLoaded(log);
            // A first read that found nothing new still tells listeners it is done.
            for (const listener of [...log.listeners]) listener([]);
          }
          if (log.again && log.listeners.size > 0) this.catchUp(log);
          this.pump();
          this.trim();
        });
    }
  }

  private trimLater(): void {
    if (this.trimDue) return;
    this.trimDue = true;
    queueMicrotask(() => {
      this.trimDue = false;
      this.trim();
    });
  }

  /** Lets go of the least recently used logs nobody follows, beyond the limits. */
  private trim(): void {
    if (this.idle <= this.limits.idleLogs && this.idleChars <= this.limits.idleChars) return;
    for (const [id, log] of this.logs) {
      if (this.idle <= this.limits.idleLogs && this.idleChars <= this.limits.idleChars) break;
      if (log.listeners.size > 0 || log.reading) continue;
      this.logs.delete(id);
      this.idle--;
      this.idleChars -= log.chars;
      // A clean log that held nothing loses nothing by going: still clean.
      if (log.clean && log.next === 0 && log.ahead.size === 0) this.remember(id);
    }
  }
}
