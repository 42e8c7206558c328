// Output never drops a line. The races that used to lose lines are forced
// on every run, not left to timing. The page talks to the server through a
// proxy that reorders its event stream (reorder.ts): a task's own records
// arrive only after its first output chunk. And the page's requests are
// held (Playwright routes) until the page has received the events they race
// with:
// - the answer to Run until the run's completion event arrived (a run that
//   ends before the view knows its id; its tasks' records and output all
//   arrive before the view knows they are its own);
// - every backlog read (`/output`) until that execution's completion event
//   arrived (live chunks before the backlog: the merge must keep both);
// - the tree's read of the descendants, likewise.
// Then the view must hold every line, and so must the run opened afresh.
import type { Page, Route } from '@playwright/test';

import { startReorderProxy } from './reorder';
import { completed, expect, openAction, tab, test } from './server';

const PARTS = ['a', 'b', 'c', 'd'];
/** What e2e.chatty prints: 20 lines per task, its four items and `solo`. */
const EXPECTED = [...PARTS, 'solo'].flatMap((part) => Array.from({ length: 20 }, (_, i) => `${part} line ${i + 1}`)).sort();

/** Resolves once the page has received `id`'s completion event. */
async function pageSawCompletion(page: Page, id: string): Promise<void> {
  await expect
    .poll(
      () =>
        page.evaluate((id) => {
          const cache = (window as unknown as { __stormdesk?: { cache: { get(id: string): { status: string } | undefined } } }).__stormdesk?.cache;
          const status = cache?.get(id)?.status ?? '';
          return ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'].includes(status);
        }, id),
      { timeout: 60_000, intervals: [20, 50, 100] },
    )
    .toBe(true);
}

/** The texts of the output lines shown, sorted. */
async function shownLines(page: Page): Promise<string[]> {
  const lines = await page
    .getByRole('region', { name: 'Execution' })
    .getByLabel('Output log')
    .locator('.line .text')
    .allTextContents();
  return lines.sort();
}

test('no line is lost: 50 runs of tasks that print at once, live and reopened', async ({ consolePage: page, server, context }) => {
  test.setTimeout(900_000);
  let holdRun = false;
  let holdReads = false;
  // The run's answer: after its completion reached the page.
  await page.route(/\/v1\/executions$/, async (route: Route) => {
    if (route.request().method() !== 'POST' || !holdRun) return route.continue();
    const response = await route.fetch();
    const started = (await response.json()) as { id: string };
    await pageSawCompletion(page, started.id);
    await route.fulfill({ response });
  });
  // Backlog and descendants: after that execution's completion reached the page.
  await page.route(/\/v1\/executions\/([0-9a-f]{24})\/(output|children)/, async (route: Route) => {
    if (!holdReads) return route.continue();
    const id = /\/v1\/executions\/([0-9a-f]{24})\//.exec(route.request().url())?.[1] ?? '';
    await pageSawCompletion(page, id);
    await route.continue();
  });

  const proxy = await startReorderProxy(server.url);
  test.info().annotations.push({ type: 'proxy', description: proxy.url });
  await page.goto(`${proxy.url}/?token=${server.token}`);
  await openAction(page, 'e2e.chatty');
  const execution = page.getByRole('region', { name: 'Execution' });
  const ids: string[] = [];
  for (let run = 0; run < 50; run++) {
    // Even runs: the view learns the run (and every task) only after it ended.
    // Odd runs: it follows the run live: each task's first chunk comes before
    // the task, the rest after it, and its backlog only once it ended.
    holdRun = run % 2 === 0;
    holdReads = true;
    const previous = ids[ids.length - 1] ?? '';
    await page.getByRole('form', { name: 'Parameters of e2e.chatty' }).getByRole('button', { name: 'Run', exact: true }).click();
    await expect(execution.locator('.execution-id')).not.toHaveText(previous);
    const id = (await execution.locator('.execution-id').textContent()) ?? '';
    ids.push(id);
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    await expect(tab(page, 'Output')).toHaveAttribute('aria-selected', 'true');
    await expect.poll(() => shownLines(page), { message: `run ${run} (${id}): every line, live` }).toEqual(EXPECTED);
    await expect(execution.locator('.output-note')).toHaveText('100 lines');
  }

  await proxy.close();
  // Each run opened afresh (a new tab on the server itself: the session
  // cookie opens it), from the store alone.
  holdReads = false;
  const reopened = await context.newPage();
  for (const id of ids) {
    await reopened.goto(`${server.url}/#/execution/${id}`);
    await expect(reopened.getByRole('region', { name: 'Execution' }).locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
    await expect.poll(() => shownLines(reopened), { message: `${id}: every line, reopened` }).toEqual(EXPECTED);
  }
  await reopened.close();
});

test('a run that ends before its answer arrives is shown as it ended, with its output', async ({ consolePage: page }) => {
  // The desktop transport's race, through the browser's: the Run answer is
  // held until the run's completion event reached the page.
  await page.route(/\/v1\/executions$/, async (route: Route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const response = await route.fetch();
    const started = (await response.json()) as { id: string };
    await pageSawCompletion(page, started.id);
    await route.fulfill({ response });
  });
  await openAction(page, 'examples.hello');
  const execution = page.getByRole('region', { name: 'Execution' });
  for (let run = 0; run < 10; run++) {
    await page.locator('#param-name').fill(`fast${run}`);
    await page.getByRole('form', { name: 'Parameters of examples.hello' }).getByRole('button', { name: 'Run', exact: true }).click();
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
    await expect(execution.getByLabel('Output log').locator('.line .text')).toHaveText([`Hello, fast${run}`]);
    await expect(execution.getByLabel('Output log')).not.toContainText('Waiting');
  }
});

test('per-line timestamps, copy and download of the whole log; "No output" when there was none', async ({ consolePage: page, context, server }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await openAction(page, 'examples.countdown');
  await page.locator('#param-count').fill('3');
  await page.locator('#param-delay').fill('0.1');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  const log = execution.getByLabel('Output log');
  await expect(log.locator('.line .text')).toHaveText(['3...', '2...', '1...', 'liftoff']);

  // Timestamps: hidden, then shown on every line (hh:mm:ss.mmm), remembered.
  const times = execution.getByRole('checkbox', { name: 'Timestamps' });
  await expect(log.locator('.line .ts').first()).toBeHidden();
  await times.check();
  await expect(log.locator('.line .ts')).toHaveCount(4);
  for (const ts of await log.locator('.line .ts').allTextContents()) expect(ts).toMatch(/^\d\d:\d\d:\d\d\.\d\d\d$/);
  await expect(log.locator('.line .ts').first()).toBeVisible();

  // Copy: what is shown.
  await execution.getByRole('button', { name: 'Copy output' }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied.split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(['3...', '2...', '1...', 'liftoff']);
  await times.uncheck();

  // Download: the whole log, from the store.
  const download = page.waitForEvent('download');
  await execution.getByRole('button', { name: 'Download log' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^examples\.countdown-[0-9a-f]{8}\.log$/);
  const path = await file.path();
  const text = (await import('node:fs')).readFileSync(path, 'utf8');
  expect(text).toBe('3...\n2...\n1...\nliftoff\n');

  // A run that printed nothing says so, once it is over.
  await openAction(page, 'examples.true');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await expect(execution.locator('.output-empty')).toHaveText('No output');
});

test('a loud run of 200,000 lines: the last 5,000 on the page, every line counted, live and reopened', async ({ consolePage: page, server }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const run = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'core.local', parameters: { cmd: 'sleep 1; seq 1 200000' } });
  await page.goto(`${server.url}/#/execution/${run.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  const shown = async (): Promise<void> => {
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    await expect(execution.locator('.output-note')).toHaveText('200,000 lines');
    await expect(execution.locator('.output-hidden')).toHaveText('195,000 earlier lines not shown here: Download has the whole log.');
    const log = execution.getByLabel('Output log');
    await expect(log.locator('.line')).toHaveCount(5000);
    await expect(log.locator('.line .text').first()).toHaveText('195001');
    await expect(log.locator('.line .text').last()).toHaveText('200000');
  };
  await shown();
  await page.reload();
  await shown();
  expect(errors).toEqual([]);
});

test('the download of a workflow has every task\'s lines, each with its task path', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.chatty', parameters: {} });
  await completed(server, started.id);
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect.poll(() => shownLines(page)).toEqual(EXPECTED);
  const download = page.waitForEvent('download');
  await execution.getByRole('button', { name: 'Download log' }).click();
  const text = (await import('node:fs')).readFileSync(await (await download).path(), 'utf8');
  const lines = text.trimEnd().split('\n');
  expect(lines).toHaveLength(100);
  expect(lines).toContain('chatty > solo | solo line 20');
  expect(lines.filter((l) => /^chatty > burst\[\d\] \| [a-d] line \d+$/.test(l))).toHaveLength(80);
});
