// OS notifications when a long run finishes, when a workflow asks a
// question (an Inquiry) and when an announcement arrives: the notification plugin in the desktop app, the
// browser's Notification API in a browser.

import type { ShownAnnouncement } from './announcements';
import { isTauri } from './backend';
import { notifySettings } from './prefs';
import { actionRef, isCompleted, taskName, type Execution } from './types';

/** Asks for permission once, from a user gesture (a browser needs one). */
export async function askPermission(): Promise<void> {
  if (!notifySettings().enabled) return;
  try {
    if (isTauri()) {
      const plugin = await import('@tauri-apps/plugin-notification');
      if (!(await plugin.isPermissionGranted())) await plugin.requestPermission();
    } else if ('Notification' in window && Notification.permission === 'default') {
      await Notification.requestPermission();
    }
  } catch {
    // No notifications on this system: nothing else to do.
  }
}

async function show(title: string, body: string): Promise<void> {
  try {
    if (isTauri()) {
      const plugin = await import('@tauri-apps/plugin-notification');
      if (await plugin.isPermissionGranted()) plugin.sendNotification({ title, body });
    } else if ('Notification' in window && Notification.permission === 'granted') {
      new Notification(title, { body, tag: 'stormdesk' });
    }
  } catch {
    // As above.
  }
}

/**
 * Watches execution events and notifies when a top-level run that this page
 * saw running completes after more than the configured time.
 */
export class CompletionNotifier {
  private readonly running = new Set<string>();
  /** What was notified, for tests and the UI. */
  readonly sent: { id: string; title: string }[] = [];

  observe(execution: Execution): void {
    if (execution.parent) return;
    if (!isCompleted(execution.status)) {
      this.running.add(execution.id);
      return;
    }
    if (!this.running.delete(execution.id)) return;
    const settings = notifySettings();
    const seconds = execution.elapsed_seconds ?? (Date.parse(execution.end_timestamp ?? '') - Date.parse(execution.start_timestamp)) / 1000;
    if (!settings.enabled || !(seconds > settings.afterSeconds)) return;
    const title = `${execution.action.ref} ${execution.status}`;
    this.sent.push({ id: execution.id, title });
    void show(title, `after ${Math.round(seconds)} s · ${execution.id}`);
  }
}

/**
 * Notifies "waiting for your answer" when an Inquiry opens while the page
 * watches (the top bar's count shows it either way).
 */
export class InquiryNotifier {
  /** What was notified, for tests and the UI. */
  readonly sent: { id: string; title: string; body: string }[] = [];

  asked(id: string, execution: Execution | null): void {
    if (!notifySettings().enabled) return;
    const title = 'Waiting for your answer';
    const task = execution ? taskName(execution) : null;
    const body = execution ? `${task ? `task ${task}` : actionRef(execution)} asks a question · ${id}` : `an Inquiry asks a question · ${id}`;
    this.sent.push({ id, title, body });
    void show(title, body);
  }
}

/**
 * Notifies each announcement (`core.announcement`) as it arrives, when
 * notifications are on (the top bar shows it either way). The text goes to
 * the system as plain text.
 */
export class AnnouncementNotifier {
  /** What was notified, for tests and the UI. */
  readonly sent: { executionId: string; title: string; body: string }[] = [];

  announced(announcement: ShownAnnouncement): void {
    if (!notifySettings().enabled) return;
    const title = `Announcement on ${announcement.route}`;
    const body = `${announcement.message} · ${announcement.executionId}`;
    this.sent.push({ executionId: announcement.executionId, title, body });
    void show(title, body);
  }
}
