// Saving a text file the operator asked for (a run's log): the browser's
// download, or in the desktop app the `save_log` command, which writes it to
// the Downloads folder (a webview has no download manager of its own).

import { invoke } from '@tauri-apps/api/core';

import { BackendError, isTauri } from './backend';

/**
 * Saves `text` as `name`. Resolves with the path it was written to (desktop)
 * or null (a browser download, which the browser places).
 */
export async function saveText(name: string, text: string): Promise<string | null> {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_');
  if (isTauri()) {
    try {
      return await invoke<string>('save_log', { name: safe, text });
    } catch (error) {
      throw BackendError.from(error);
    }
  }
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = safe;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
  return null;
}

/** Copies text to the clipboard; false when the page may not. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
