// The desktop app's transport to a remote server (a RemoteTransport for
// HttpBackend): every request and the event stream go through the app's
// commands (src-tauri/src/commands/remote.rs), which use a client built for
// the connection (its CA certificate trusted besides the usual roots) and add
// the credentials from the keyring themselves. The webview's own `fetch`
// would trust only the system's store, and would need the token.

import { Channel, invoke } from '@tauri-apps/api/core';

import { BackendError, type RemoteTransport, type TransportEvents, type TransportResponse, type Unsubscribe } from './backend';
import type { Revisions } from './types';

/** What the app's stream task sends (`StreamMessage` in src-tauri/src/connections/remote.rs). */
type StreamMessage =
  | { kind: 'open'; again: boolean }
  | { kind: 'event'; id: string | null; event: string; data: string }
  | { kind: 'failed'; code: string; message: string };

export class TauriRemoteTransport implements RemoteTransport {
  constructor(private readonly connectionId: string) {}

  async request(method: string, url: string, accept: string, body?: unknown): Promise<TransportResponse> {
    try {
      const answer = await invoke<{ status: number; content_type: string; body: string }>('remote_request', {
        id: this.connectionId,
        method,
        url,
        body: body === undefined ? null : body,
        accept,
      });
      return { status: answer.status, text: answer.body };
    } catch (error) {
      throw BackendError.from(error);
    }
  }

  events(url: string, sink: TransportEvents): Unsubscribe {
    const channel = new Channel<StreamMessage>();
    let closed = false;
    let stream: number | null = null;
    channel.onmessage = (message) => {
      if (closed) return;
      switch (message.kind) {
        case 'open':
          sink.open(message.again);
          break;
        case 'event':
          sink.message(message.id ?? undefined, message.event, message.data);
          break;
        case 'failed':
          sink.failed(new BackendError({ code: message.code, faultstring: message.message }));
          break;
      }
    };
    const close = (id: number): void => {
      void invoke('remote_stream_close', { stream: id }).catch(() => undefined);
    };
    invoke<number>('remote_stream_open', { id: this.connectionId, url, channel }).then(
      (id) => {
        if (closed) close(id);
        else stream = id;
      },
      (error: unknown) => sink.failed(BackendError.from(error)),
    );
    return () => {
      closed = true;
      if (stream !== null) close(stream);
    };
  }

  async packRevisions(pack: string): Promise<Revisions> {
    try {
      return await invoke<Revisions>('remote_pack_revisions', { id: this.connectionId, pack });
    } catch (error) {
      throw BackendError.from(error);
    }
  }
}
