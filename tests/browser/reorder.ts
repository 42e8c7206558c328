// A proxy in front of `stormdesk serve` that reorders its event stream the
// way a busy network or a busy engine may: a workflow task's own records
// (`st2.execution__create` / `__update`) reach the page only after that
// task's first output chunk, so the page always sees output of a task it
// does not know yet, then the task, then the rest of its output live.
// Everything else passes through unchanged (the Host and Origin the server
// checks are rewritten to its own).
import { createServer, request, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';

export interface ReorderProxy {
  url: string;
  close(): Promise<void>;
}

interface Message {
  raw: string;
  event: string;
  data: string;
}

/** Splits an SSE text buffer into complete messages; returns the rest. */
function messages(buffer: string): { done: Message[]; rest: string } {
  const done: Message[] = [];
  let at = buffer.indexOf('\n\n');
  while (at >= 0) {
    const raw = buffer.slice(0, at + 2);
    buffer = buffer.slice(at + 2);
    let event = '';
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    done.push({ raw, event, data: data.join('\n') });
    at = buffer.indexOf('\n\n');
  }
  return { done, rest: buffer };
}

/** The stream, reordered: a task's records wait for its first output chunk (or its completion). */
function reorder(upstream: IncomingMessage, out: ServerResponse): void {
  let buffer = '';
  /** Records held per task, until its first chunk. */
  const held = new Map<string, Message[]>();
  /** Tasks whose first chunk went out. */
  const spoken = new Set<string>();
  const release = (id: string): void => {
    for (const m of held.get(id) ?? []) out.write(m.raw);
    held.delete(id);
    spoken.add(id);
  };
  upstream.setEncoding('utf8');
  upstream.on('data', (text: string) => {
    const { done, rest } = messages(buffer + text);
    buffer = rest;
    for (const m of done) {
      if (m.event === 'st2.execution.output__create') {
        out.write(m.raw);
        const id = (JSON.parse(m.data) as { execution_id: string }).execution_id;
        if (!spoken.has(id)) release(id);
        continue;
      }
      if (m.event === 'st2.execution__create' || m.event === 'st2.execution__update') {
        const e = JSON.parse(m.data) as { id: string; parent?: string; status: string };
        if (e.parent && !spoken.has(e.id)) {
          const list = held.get(e.id) ?? [];
          list.push(m);
          held.set(e.id, list);
          // A task that completes without output is released with its completion.
          if (['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'].includes(e.status)) release(e.id);
          continue;
        }
      }
      out.write(m.raw);
    }
  });
  upstream.on('end', () => out.end());
}

/** Starts the proxy for the server at `target` (`http://127.0.0.1:PORT`). */
export async function startReorderProxy(target: string): Promise<ReorderProxy> {
  const upstreamUrl = new URL(target);
  const server: HttpServer = createServer((req, res) => {
    const headers = { ...req.headers, host: upstreamUrl.host };
    if (headers.origin) headers.origin = upstreamUrl.origin;
    const forward = request(
      { host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        if (req.url?.startsWith('/v1/stream')) reorder(upstream, res);
        else upstream.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
