// What the console remembers per machine (localStorage): theme,
// notification settings, the timezone times are shown in, output timestamps. The desktop app keeps its window state itself
// (tauri-plugin-window-state).

export type ThemeChoice = 'system' | 'light' | 'dark';

const THEME = 'stormdesk.theme';
const NOTIFY_AFTER = 'stormdesk.notifyAfter';
const NOTIFY = 'stormdesk.notify';

/** A remembered value; null when unset or storage is disabled. */
export function readPref(key: string): string | null {
  return read(key);
}

/** Remembers a value (for this page only when storage is disabled). */
export function writePref(key: string, value: string): void {
  write(key, value);
}

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

export function themeChoice(): ThemeChoice {
  const value = read(THEME);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Applies a theme: `system` follows `prefers-color-scheme`. */
export function applyTheme(choice: ThemeChoice): void {
  write(THEME, choice);
  if (choice === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', choice);
}

/** The theme in effect now. */
export function effectiveTheme(): 'light' | 'dark' {
  const choice = themeChoice();
  if (choice !== 'system') return choice;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** system -> the opposite of what the system shows -> the other -> system. */
export function nextTheme(): ThemeChoice {
  const choice = themeChoice();
  if (choice === 'system') return effectiveTheme() === 'dark' ? 'light' : 'dark';
  const systemDark = window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
  return (choice === 'dark') === systemDark ? 'system' : choice === 'dark' ? 'light' : 'dark';
}

export interface NotifySettings {
  enabled: boolean;
  /** Only runs that took longer than this many seconds. */
  afterSeconds: number;
}

export function notifySettings(): NotifySettings {
  const after = Number(read(NOTIFY_AFTER));
  return {
    enabled: read(NOTIFY) !== 'off',
    afterSeconds: Number.isFinite(after) && after > 0 ? after : 10,
  };
}

export function saveNotifySettings(settings: NotifySettings): void {
  write(NOTIFY, settings.enabled ? 'on' : 'off');
  write(NOTIFY_AFTER, String(settings.afterSeconds));
}

const OUTPUT_TIMES = 'stormdesk.outputTimes';

/** Whether output lines show their timestamps. */
export function outputTimestamps(): boolean {
  return read(OUTPUT_TIMES) === 'on';
}

export function saveOutputTimestamps(on: boolean): void {
  write(OUTPUT_TIMES, on ? 'on' : 'off');
}
