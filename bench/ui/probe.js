// Injected into every page of the live UI benchmark (bench/ui/live.mjs) at
// document start, before the console's own scripts. It changes nothing the
// console does; it records, in `window.__live`:
// - `es`: a raw EventSource on `/v1/stream` (the same-run baseline): for each
//   `st2.execution__update` with a final status, [id, parent, status,
//   end_timestamp, received at (ms since navigation start)];
// - `counts`: each change of the per-status counts on the tree's root row
//   (every descendant's status is counted there; the tree draws only the
//   rows in view): [at, final, total];
// - `desc`: when the console's own `/children?depth=-1` answer was parsed,
//   how many records it held, and the ids of those already final;
// - `work`: each animation-frame callback (the tree's updates are drawn in
//   one) plus the style and layout it causes: [start, ms];
// - `frames`: animation-frame timestamps; `longTasks`: [start, ms];
// - `requests`: the console's fetch() calls, [at, path];
// - `conn`: final statuses as they arrive on the console's own stream
//   connection (a tee of its bytes): [id, parent, end_timestamp, at].
// All times are `performance.now()`: milliseconds since navigation started.
(() => {
  const match = /^#\/execution\/(.+)$/.exec(location.hash);
  if (!match) return;
  const rootId = decodeURIComponent(match[1]);
  const FINAL = new Set(['succeeded', 'failed', 'timeout', 'canceled', 'abandoned']);
  const live = {
    rootId,
    timeOrigin: performance.timeOrigin,
    es: [],
    updates: [],
    counts: [],
    desc: null,
    work: [],
    frames: [],
    longTasks: [],
    esOpenedAt: null,
  };
  window.__live = live;

  // The baseline: StackStorm's stream, read with the browser's own
  // EventSource (same origin: the session cookie authenticates it).
  const source = new EventSource('/v1/stream?events=st2.execution__update');
  source.addEventListener('open', () => {
    if (live.esOpenedAt === null) live.esOpenedAt = performance.now();
  });
  source.addEventListener('st2.execution__update', (message) => {
    const at = performance.now();
    live.updates.push(at);
    const e = JSON.parse(message.data);
    if (FINAL.has(e.status)) live.es.push([e.id, e.parent ?? null, e.status, e.end_timestamp ?? null, at]);
  });
  live.closeStream = () => source.close();

  // The console's requests: [at, path] (a resync after missed events refetches the tree).
  const fetch_ = window.fetch.bind(window);
  live.requests = [];
  window.fetch = (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    live.requests.push([performance.now(), url.pathname]);
    if (url.pathname !== '/v1/stream') return fetch_(input, init);
    // The console's own stream: a copy of its bytes is read here, to time
    // when each final status arrives on the console's connection.
    return fetch_(input, init).then((response) => {
      if (!response.body) return response;
      const [mine, copy] = response.body.tee();
      void readFinals(copy);
      return new Response(mine, { status: response.status, statusText: response.statusText, headers: response.headers });
    });
  };
  /** [id, parent, end_timestamp, received at] of each final status on the console's connection, in order. */
  live.conn = [];
  async function readFinals(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = '';
    let data = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      const at = performance.now();
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          if (event === 'st2.execution__update' && data) {
            const e = JSON.parse(data);
            if (FINAL.has(e.status)) live.conn.push([e.id, e.parent ?? null, e.end_timestamp ?? null, at]);
          }
          event = '';
          data = '';
        } else if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
      }
    }
  }

  // The console's descendants answer: when parsed, how many records.
  const json = Response.prototype.json;
  const children = `/v1/executions/${encodeURIComponent(rootId)}/children`;
  Response.prototype.json = function () {
    const parsed = json.call(this);
    if (live.desc !== null || !this.url.includes(children)) return parsed;
    return parsed.then((value) => {
      if (live.desc === null) {
        const at = performance.now();
        const records = Array.isArray(value) ? value : [];
        live.desc = { at, n: records.length, final: records.filter((e) => FINAL.has(e.status)).map((e) => e.id) };
      }
      return value;
    });
  };

  // The root row's counts, at each DOM change.
  let waiters = [];
  let last = { final: -1, total: -1 };
  const read = () => {
    const row = document.querySelector(`.tree-row[data-key="${CSS.escape(rootId)}"]`);
    if (!row) return;
    let final = 0;
    let total = 0;
    for (const count of row.querySelectorAll('.counts [data-status]')) {
      const status = count.getAttribute('data-status');
      const n = parseInt(count.getAttribute('title') ?? '0', 10) || 0;
      if (status !== 'waiting') total += n;
      if (FINAL.has(status)) final += n;
    }
    const at = performance.now();
    if (final !== last.final || total !== last.total) {
      last = { final, total };
      live.counts.push([at, final, total]);
    }
    waiters = waiters.filter((w) => {
      if (!w.test(final, total)) return true;
      w.resolve(at);
      return false;
    });
  };
  const wait = (test) =>
    new Promise((resolve) => {
      if (last.total >= 0 && test(last.final, last.total)) resolve(performance.now());
      else waiters.push({ test, resolve });
    });
  /** Resolves when the tree counts the nodes of the console's own descendants answer. */
  live.shown = () => wait((_final, total) => live.desc !== null && total >= live.desc.n);
  /** Resolves when the tree counts `n` nodes with a final status. */
  live.finalAt = (n) => wait((final) => final >= n);
  new MutationObserver(read).observe(document, { subtree: true, childList: true, characterData: true });

  // Frame work: each animation-frame callback plus the style and layout it
  // causes (as bench/ui/bench.ts measures the tree's updates).
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) =>
    raf((time) => {
      const start = performance.now();
      try {
        callback(time);
      } finally {
        void document.body?.offsetHeight;
        live.work.push([start, performance.now() - start]);
      }
    });
  const tick = (time) => {
    live.frames.push(time);
    raf(tick);
  };
  raf(tick);
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) live.longTasks.push([entry.startTime, entry.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // No long-task timing in this browser.
  }

  /** The console's own descendants request, from Resource Timing (request start to last byte). */
  live.descRequest = () => {
    const entry = performance.getEntriesByType('resource').find((e) => e.name.includes(children));
    return entry ? { start: entry.startTime, ms: entry.responseEnd - entry.startTime } : null;
  };
})();
