// A big run watched live: a real workflow of a few hundred tasks (e2e.many,
// with-items over `core.echo`, each task printing one line), run by the
// engine while the console follows it. Every task is in the tree exactly
// once with its final status; every line reaches the workflow's combined
// output; and the output comes from the event stream: the number of backlog
// reads (`/v1/executions/{id}/output`) does not grow with the number of
// tasks. Opened again once it ended, the output of the tasks is read from
// the store, a bounded number of them (the most recent), and the view says
// how many are not followed.
import type { Locator, Page } from '@playwright/test';

import { completed, expect, openAction, tab, test } from './server';

const TASKS = 300;
/** The tree's fixed row height (ui/src/ui/tree-view.ts). */
const ROW_HEIGHT = 26;
/** Backlog reads a workflow node's Output tab makes at most (ui/src/ui/node-details.ts). */
const MAX_READ_SOURCES = 50;
const FINAL = ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'];

interface Row {
  key: string;
  status: string;
  index: number;
}

/** Output backlog reads the page makes, from now on. */
function countOutputReads(page: Page): { count: () => number } {
  let n = 0;
  page.on('request', (request) => {
    if (/\/v1\/executions\/[^/]+\/output/.test(new URL(request.url()).pathname)) n++;
  });
  return { count: () => n };
}

/**
 * Every row of the (virtual) tree: scrolled through from top to bottom, each
 * row drawn read with its place (its offset over the row height). Fails when
 * one node is drawn at two places, or two nodes at one.
 */
async function allRows(tree: Locator): Promise<Row[]> {
  const byKey = new Map<string, Row>();
  const byIndex = new Map<number, string>();
  const total = await tree.evaluate((el) => el.scrollHeight);
  for (let top = 0; ; ) {
    const rows = await tree.evaluate((el, top) => {
      el.scrollTop = top;
      el.dispatchEvent(new Event('scroll'));
      return new Promise<{ key: string; status: string; y: number }[]>((resolve) =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() =>
            resolve(
              [...el.querySelectorAll<HTMLElement>('.tree-row:not([hidden])')].map((row) => ({
                key: row.dataset['key'] ?? '',
                status: row.dataset['status'] ?? '',
                y: Number(/translateY\((-?\d+(?:\.\d+)?)px\)/.exec(row.style.transform)?.[1] ?? NaN),
              })),
            ),
          ),
        ),
      );
    }, top);
    for (const row of rows) {
      const index = Math.round(row.y / ROW_HEIGHT);
      const known = byKey.get(row.key);
      if (known) expect(known.index, `${row.key} drawn at two places`).toBe(index);
      const other = byIndex.get(index);
      if (other) expect(other, `two nodes drawn at row ${index}`).toBe(row.key);
      byKey.set(row.key, { key: row.key, status: row.status, index });
      byIndex.set(index, row.key);
    }
    const height = await tree.evaluate((el) => el.clientHeight);
    if (top + height >= total) break;
    top += Math.max(ROW_HEIGHT, height - 2 * ROW_HEIGHT);
  }
  return [...byKey.values()].sort((a, b) => a.index - b.index);
}

/** The texts of the output lines shown, sorted. */
async function shownLines(page: Page): Promise<string[]> {
  const lines = await page.getByRole('region', { name: 'Execution' }).getByLabel('Output log').locator('.line .text').allTextContents();
  return lines.sort();
}

const EXPECTED_LINES = Array.from({ length: TASKS }, (_, i) => `line ${i}`).sort();

test(`a run of ${TASKS} tasks watched live: each task once, final, every line; output reads do not grow with the tasks`, async ({ consolePage: page, server, context }) => {
  test.setTimeout(300_000);
  const reads = countOutputReads(page);
  await openAction(page, 'e2e.many');
  await page.locator('#param-count').fill(String(TASKS));
  await page.getByRole('form', { name: 'Parameters of e2e.many' }).getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree).toBeVisible();
  const id = (await execution.locator('.execution-id').textContent()) ?? '';
  expect(id).toMatch(/^[0-9a-f]{24}$/);
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 240_000 });

  // The root row counts every task, final.
  const root = tree.locator(`.tree-row[data-key="${id}"]`);
  await expect(root.locator('.count[data-status="succeeded"]')).toHaveAttribute('title', `${TASKS} succeeded`);
  // Every task exactly once, with the status the engine recorded.
  const tasks = await server.api<{ id: string; status: string }[]>('GET', `/v1/executions/${id}/children?depth=-1`);
  expect(tasks).toHaveLength(TASKS);
  const rows = await allRows(tree);
  expect(rows[0]?.key).toBe(id);
  expect(rows).toHaveLength(TASKS + 1);
  expect(rows.map((r) => r.index)).toEqual(Array.from({ length: TASKS + 1 }, (_, i) => i));
  const shown = new Map(rows.map((r) => [r.key, r.status]));
  for (const task of tasks) {
    expect(FINAL).toContain(task.status);
    expect(shown.get(task.id), `task ${task.id}`).toBe(task.status);
  }

  // The workflow's combined output: every task's line, once.
  await expect(tab(page, 'Output')).toHaveAttribute('aria-selected', 'true');
  await expect.poll(() => shownLines(page), { timeout: 30_000 }).toEqual(EXPECTED_LINES);
  await expect(execution.locator('.output-note')).toHaveText(`${TASKS} lines`);
  // From the stream: no backlog read per task (the tasks started while the page followed the stream).
  const watched = reads.count();
  test.info().annotations.push({ type: 'output reads while watched', description: String(watched) });
  expect(watched).toBeLessThanOrEqual(2);

  // A task selected: its line, with no read (the stream brought it).
  await tree.focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowDown');
  await expect(execution.locator('.detail-title')).toHaveText(/^many > each\[\d+\]$/);
  const item = /\[(\d+)\]$/.exec((await execution.locator('.detail-title').textContent()) ?? '')?.[1];
  await expect.poll(() => shownLines(page)).toEqual([`line ${item}`]);
  expect(reads.count()).toBe(watched);

  // Opened afresh once it ended: the tasks' output is in the store only.
  // The most recent tasks are read, a bounded number; the view says how
  // many more it does not follow.
  const reopened = await context.newPage();
  const fresh = countOutputReads(reopened);
  await reopened.goto(`${server.url}/#/execution/${id}`);
  const again = reopened.getByRole('region', { name: 'Execution' });
  await expect(again.getByRole('tree', { name: 'Workflow tree' }).locator(`.tree-row[data-key="${id}"] .count[data-status="succeeded"]`)).toHaveAttribute(
    'title',
    `${TASKS} succeeded`,
  );
  await expect(again.locator('.output-note')).toHaveText(`${MAX_READ_SOURCES} lines`);
  await expect(again.locator('.details .muted', { hasText: 'not followed' })).toContainText(`${TASKS - MAX_READ_SOURCES} more tasks`);
  const lines = await shownLines(reopened);
  // The newest tasks: each line once.
  expect(new Set(lines).size).toBe(MAX_READ_SOURCES);
  for (const line of lines) expect(EXPECTED_LINES).toContain(line);
  expect(fresh.count()).toBeGreaterThanOrEqual(MAX_READ_SOURCES);
  expect(fresh.count()).toBeLessThanOrEqual(MAX_READ_SOURCES + 2);
  await reopened.close();
});

test('a run opened while it runs: the tree before the catalogue, then every task live; reads bounded', async ({ consolePage: page, server, context }) => {
  test.setTimeout(300_000);
  // The catalogue's answers are held until the tree is shown: the run must not wait for them.
  let treeShown = false;
  const heldCatalogue: (() => void)[] = [];
  const fresh = await context.newPage();
  await fresh.route(/\/v1\/(packs|actions)(\?.*)?$/, async (route) => {
    if (treeShown) return route.continue();
    await new Promise<void>((resolve) => heldCatalogue.push(resolve));
    await route.continue();
  });
  const reads = countOutputReads(fresh);
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.many', parameters: { count: 200, concurrency: 2 } });
  await fresh.goto(`${server.url}/#/execution/${started.id}`);
  const execution = fresh.getByRole('region', { name: 'Execution' });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree.locator(`.tree-row[data-key="${started.id}"]`)).toBeVisible();
  treeShown = true;
  for (const release of heldCatalogue.splice(0)) release();
  await expect(fresh.locator('.action-item').first()).toBeAttached();
  await completed(server, started.id);
  await expect(tree.locator(`.tree-row[data-key="${started.id}"] .count[data-status="succeeded"]`)).toHaveAttribute('title', '200 succeeded', { timeout: 60_000 });
  const rows = await allRows(tree);
  expect(rows).toHaveLength(201);
  expect(rows.filter((r) => r.status !== 'succeeded')).toEqual([]);
  // Tasks that started before the page followed the stream are read (the
  // most recent, a bounded number); the rest come from the stream.
  expect(reads.count()).toBeLessThanOrEqual(MAX_READ_SOURCES + 2);
  const lines = await shownLines(fresh);
  expect(new Set(lines).size).toBe(lines.length);
  await fresh.close();
});
