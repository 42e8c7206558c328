// Times as the console shows them: absolute with the timezone (local or
// UTC, the operator's choice, remembered), relative ("3 min ago"), and
// durations with milliseconds under a second.

import { readPref, writePref } from './prefs';

export type Zone = 'local' | 'utc';

const ZONE = 'stormdesk.zone';
const listeners = new Set<() => void>();

export function zone(): Zone {
  return readPref(ZONE) === 'utc' ? 'utc' : 'local';
}

export function setZone(next: Zone): void {
  writePref(ZONE, next);
  for (const listener of [...listeners]) listener();
}

/** Called whenever the zone changes; returns the way to stop. */
export function onZoneChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const two = (n: number): string => String(n).padStart(2, '0');

let localZoneName: string | null = null;
/** The local zone's short name (`CET`, `GMT+1`, `UTC`). */
function localZone(): string {
  if (localZoneName === null) {
    try {
      const part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
        .formatToParts(new Date())
        .find((p) => p.type === 'timeZoneName');
      localZoneName = part?.value ?? 'local';
    } catch {
      localZoneName = 'local';
    }
  }
  return localZoneName;
}

export interface TimeFormat {
  /** Include the date (default true). */
  date?: boolean;
  /** Include milliseconds (default false). */
  ms?: boolean;
  /** Append the zone (default true). */
  zone?: boolean;
}

/** `2026-05-01 14:03:12 CEST`, in the chosen zone; the input as is when unparsable. */
export function formatTime(iso: string | undefined | null, format: TimeFormat = {}): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const utc = zone() === 'utc';
  const y = utc ? date.getUTCFullYear() : date.getFullYear();
  const mo = utc ? date.getUTCMonth() : date.getMonth();
  const d = utc ? date.getUTCDate() : date.getDate();
  const h = utc ? date.getUTCHours() : date.getHours();
  const mi = utc ? date.getUTCMinutes() : date.getMinutes();
  const s = utc ? date.getUTCSeconds() : date.getSeconds();
  const ms = utc ? date.getUTCMilliseconds() : date.getMilliseconds();
  let text = `${two(h)}:${two(mi)}:${two(s)}`;
  if (format.ms) text += `.${String(ms).padStart(3, '0')}`;
  if (format.date !== false) text = `${y}-${two(mo + 1)}-${two(d)} ${text}`;
  if (format.zone !== false) text += ` ${utc ? 'UTC' : localZone()}`;
  return text;
}

/** `just now`, `12 s ago`, `3 min ago`, `2 h ago`, `4 d ago`; `in …` for the future. */
export function relative(iso: string | undefined | null, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const seconds = Math.round((now - t) / 1000);
  const abs = Math.abs(seconds);
  let text: string;
  if (abs < 5) return 'just now';
  if (abs < 60) text = `${abs} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 86_400) text = `${Math.floor(abs / 3600)} h`;
  else text = `${Math.floor(abs / 86_400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/** The attribute that marks an element showing a relative time (its value: the ISO time). */
const RELATIVE = 'data-rel-ts';
let relativeClock = 0;

/**
 * A `<span>` with the relative time of `iso` ("9 s ago"), in parentheses
 * when `paren`. One clock for the whole page brings every such span up to
 * date every 5 s for as long as it is shown, so a run that ended a while ago
 * never reads "just now".
 */
export function relativeSpan(iso: string, options: { paren?: boolean; className?: string } = {}): HTMLSpanElement {
  const span = document.createElement('span');
  span.setAttribute(RELATIVE, iso);
  if (options.paren) span.dataset['relParen'] = '';
  if (options.className) span.className = options.className;
  span.textContent = relativeText(span);
  if (relativeClock === 0) relativeClock = window.setInterval(refreshRelativeTimes, 5_000);
  return span;
}

function relativeText(span: HTMLElement): string {
  const text = relative(span.getAttribute(RELATIVE));
  return span.dataset['relParen'] === undefined ? text : ` (${text})`;
}

/** Brings every relative time in the page up to date (the clock calls it). */
export function refreshRelativeTimes(): void {
  for (const span of document.querySelectorAll<HTMLElement>(`[${RELATIVE}]`)) {
    const text = relativeText(span);
    if (span.textContent !== text) span.textContent = text;
  }
}

/** `350 ms`, `4.2 s`, `12 s`, `3 m 05 s`, `2 h 01 m`. */
export function formatDuration(seconds: number): string {
  if (!(seconds > 0)) seconds = 0;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${two(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${two(Math.floor((s % 3600) / 60))} m`;
}

/** Seconds between two RFC 3339 times (to now when `end` is absent); null when unparsable. */
export function secondsBetween(start: string | undefined, end: string | undefined, now = Date.now()): number | null {
  const a = start ? Date.parse(start) : NaN;
  if (Number.isNaN(a)) return null;
  const b = end ? Date.parse(end) : now;
  return Number.isNaN(b) ? null : (b - a) / 1000;
}
