// Announcements (`core.announcement`, the `announcement` runner) as the
// console keeps them: what arrived in this session, newest first, at most
// `RECENT_LIMIT`. Both transports deliver `{route, body, execution_id}`:
// the desktop app's `announcement` event, the HTTP stream's
// `stormdesk.announcement` (crates/engine/src/api/stream.rs).

/** One announcement as the engine sends it. */
export interface Announcement {
  /** The routing key (the runner parameter `route`, default `general`). */
  route: string;
  /** StackStorm's body: `{"payload": <the action's parameters>, "trace_context": ...}`. */
  body: unknown;
  /** The `core.announcement` execution that announced it. */
  execution_id: string;
}

/** An announcement as the console shows it. */
export interface ShownAnnouncement {
  /** Unique in this page (the same execution may announce twice after a resync). */
  key: number;
  route: string;
  /** The message as plain text (see `announcementText`). */
  message: string;
  executionId: string;
  /** When it arrived here (ISO 8601). */
  at: string;
}

/** How many announcements the top bar's list keeps. */
export const RECENT_LIMIT = 20;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The text of an announcement's body: the `message` parameter of
 * `core.announcement` (inside StackStorm's `payload`); a string as it is, an
 * object by its own `message` field when it has one, anything else as
 * compact JSON. Always plain text: the caller puts it in a text node.
 */
export function announcementText(body: unknown): string {
  const payload = isObject(body) && 'payload' in body ? body['payload'] : body;
  const message = isObject(payload) && 'message' in payload ? payload['message'] : payload;
  if (isObject(message) && typeof message['message'] === 'string') return message['message'];
  if (typeof message === 'string') return message;
  if (message === null || message === undefined) return '(no message)';
  return JSON.stringify(message);
}

/** The announcements of this session, newest first, with change listeners. */
export class AnnouncementLog {
  private readonly entries: ShownAnnouncement[] = [];
  private readonly listeners = new Set<(added: ShownAnnouncement) => void>();
  private next = 1;

  /** Records an arrival; returns it as shown. */
  add(announcement: Announcement, now: Date = new Date()): ShownAnnouncement {
    const shown: ShownAnnouncement = {
      key: this.next++,
      route: String(announcement.route ?? ''),
      message: announcementText(announcement.body),
      executionId: String(announcement.execution_id ?? ''),
      at: now.toISOString(),
    };
    this.entries.unshift(shown);
    this.entries.length = Math.min(this.entries.length, RECENT_LIMIT);
    for (const listener of [...this.listeners]) listener(shown);
    return shown;
  }

  /** Newest first. */
  list(): readonly ShownAnnouncement[] {
    return this.entries;
  }

  /** Called with each new announcement. */
  onAdd(listener: (added: ShownAnnouncement) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
