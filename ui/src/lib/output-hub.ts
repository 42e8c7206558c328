// Output that never drops a line: one ordered log per execution, merged
// from the recorded backlog (`Backend.output`) and the live events
// (`Backend.onOutput`), keyed by the chunk's `seq` (per execution, from 0,
// gap-free). Every view reads output through here, over either transport.
//
// Why it cannot lose a line: the engine stores a chunk before it publishes
// it, so a chunk published before a log existed is in the store when the
// log's backlog is read; a chunk published after is held here (in order, or
// aside until the gap before it is filled). A gap (a live chunk past the
// next expected seq: missed events) and the execution's completion both
// trigger a catch-up read of the store after the last seq held.

import type { Unsubscribe } from './backend';
import type { OutputChunk } from './types';

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

/** Backlog reads in flight at once (a workflow view may ask for thousands). */
const PARALLEL_READS = 6;
/** Logs kept without a subscriber, most recent first, for a quick reopen. */
const RETAINED = 64;

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
  /** The backlog has been read once. */
  loaded = false;
  readonly loadedWaiters: (() => void)[] = [];

  constructor(readonly id: string) {}

  get next(): number {
    return this.chunks.length;
  }
}

export class OutputHub {
  private readonly logs = new Map<string, Log>();
  private readonly queue: Log[] = [];
  private reads = 0;

  constructor(private readonly source: OutputSource) {}

  /** A live chunk (every one the backend delivers goes here). */
  live(chunk: OutputChunk): void {
    const log = this.logs.get(chunk.execution_id);
    if (!log) return; // Nobody watches it: the store has it for later.
    // A server that does not number its output (StackStorm): the event says
    // there is more; the backlog read brings it, in order.
    if (typeof chunk.seq !== 'number') {
      this.catchUp(log);
      return;
    }
    this.add(log, [chunk]);
    if (log.ahead.size > 0) this.catchUp(log);
  }

  /** The execution completed: read whatever the live events did not bring. */
  completed(id: string): void {
    const log = this.logs.get(id);
    if (log) this.catchUp(log);
  }

  /** Events may have been missed (stream reconnected, UI fell behind): catch every log up. */
  resync(): void {
    for (const log of this.logs.values()) this.catchUp(log);
  }

  /**
   * Follows one execution's output: `listener` gets what is held at once
   * (when there is any), then every further chunk in order.
   */
  subscribe(id: string, listener: OutputListener): Unsubscribe {
    let log = this.logs.get(id);
    if (log) {
      // Most recently used last.
      this.logs.delete(id);
      this.logs.set(id, log);
    } else {
      log = new Log(id);
      this.logs.set(id, log);
    }
    log.listeners.add(listener);
    if (log.chunks.length > 0) listener(log.chunks.slice());
    // Always read after the last seq held: a retained log may have missed chunks.
    this.catchUp(log);
    const theLog = log;
    return () => {
      theLog.listeners.delete(listener);
      this.trim();
    };
  }

  /** Everything held for `id` so far (a copy). */
  chunks(id: string): OutputChunk[] {
    return this.logs.get(id)?.chunks.slice() ?? [];
  }

  /** Whether `id`'s backlog has been read at least once. */
  loaded(id: string): boolean {
    return this.logs.get(id)?.loaded ?? false;
  }

  /** Resolves once `id`'s backlog has been read (it must be subscribed). */
  whenLoaded(id: string): Promise<void> {
    const log = this.logs.get(id);
    if (!log || log.loaded) return Promise.resolve();
    return new Promise((resolve) => log.loadedWaiters.push(resolve));
  }

  private add(log: Log, chunks: OutputChunk[]): void {
    const fresh: OutputChunk[] = [];
    for (const chunk of chunks) {
      if (chunk.seq < log.next) continue;
      if (chunk.seq > log.next) {
        log.ahead.set(chunk.seq, chunk);
        continue;
      }
      log.chunks.push(chunk);
      fresh.push(chunk);
      // Chunks held aside that now follow on.
      for (let c = log.ahead.get(log.next); c; c = log.ahead.get(log.next)) {
        log.ahead.delete(c.seq);
        log.chunks.push(c);
        fresh.push(c);
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
    while (this.reads < PARALLEL_READS && this.queue.length > 0) {
      const log = this.queue.shift() as Log;
      if (this.logs.get(log.id) !== log) {
        log.reading = false;
        continue;
      }
      this.reads++;
      const after = log.next > 0 ? log.next - 1 : undefined;
      this.source
        .output(log.id, after)
        .then(
          (chunks) => {
            this.add(log, chunks);
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
            log.loaded = true;
            for (const resolve of log.loadedWaiters.splice(0)) resolve();
            // A first read that found nothing new still tells listeners it is done.
            for (const listener of [...log.listeners]) listener([]);
          }
          if (log.again) this.catchUp(log);
          this.pump();
        });
    }
  }

  /** Drops the least recently used logs nobody follows, beyond RETAINED. */
  private trim(): void {
    let idle = 0;
    for (const log of this.logs.values()) if (log.listeners.size === 0) idle++;
    if (idle <= RETAINED) return;
    for (const [id, log] of this.logs) {
      if (idle <= RETAINED) break;
      if (log.listeners.size === 0 && !log.reading) {
        this.logs.delete(id);
        idle--;
      }
    }
  }
}
