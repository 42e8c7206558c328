// The two-pane execution view: the tree at full height on the left, the
// selected node's details on the right in tabs; per node its times (with
// timezone and relative; UTC/local toggle), a duration that ticks while it
// runs, who ran it, its status log, its with-items item and "2 of 4", its
// retry attempt; a Gantt timeline of a workflow's tasks.
import { completed, expect, openAction, tab, test } from './server';

test.use({ timezoneId: 'Europe/Berlin' });

test('two panes: the tree at full height, details in tabs', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.deploy', parameters: { delay: 0.05 } });
  await completed(server, started.id);
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  const details = execution.getByRole('region', { name: 'Selected' });
  await expect(tree.locator('.tree-row:not([hidden])')).toHaveCount(12);
  const t = (await tree.boundingBox())!;
  const d = (await details.boundingBox())!;
  const viewport = page.viewportSize()!;
  // Side by side, the tree as tall as the details, filling the window's height below the header.
  expect(t.x + t.width).toBeLessThanOrEqual(d.x);
  expect(Math.abs(t.height - d.height)).toBeLessThan(4);
  expect(t.y + t.height).toBeGreaterThan(viewport.height - 40);
  // One scroll per pane: the page itself does not scroll.
  expect(await page.evaluate(() => document.scrollingElement!.scrollHeight <= window.innerHeight + 1)).toBe(true);

  const tabs = details.getByRole('tab');
  await expect(tabs).toHaveText(['Output', 'Result', 'Parameters', 'Timeline']);
  await expect(tab(page, 'Output')).toHaveAttribute('aria-selected', 'true');
  await tab(page, 'Output').focus();
  await page.keyboard.press('ArrowRight');
  await expect(tab(page, 'Result')).toHaveAttribute('aria-selected', 'true');
  await expect(details.getByRole('tabpanel')).toHaveCount(1);
  await expect(details.locator('.result-view')).toHaveAttribute('data-kind', 'workflow');
  await tab(page, 'Parameters').click();
  await expect(details.locator('.parameters')).toContainText('delay');
  // Information is not repeated: the root's facts are in the header only.
  await tab(page, 'Output').click();
  await expect(details.locator('.node-facts .fact')).toHaveCount(0);
});

test('per node: times with timezone and relative, UTC or local, who ran it, its status log', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.deploy', parameters: { delay: 0.05 } });
  await completed(server, started.id);
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  const header = execution.locator('.execution-header');
  await expect(header.locator('[data-started]')).toHaveText(/^started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST|GMT\+1|GMT\+2) \((just now|\d+ s ago|\d+ min ago)\)$/);
  await expect(header.locator('[data-user]')).toHaveText(/^by \S+$/);
  // The toggle: every time shown switches to UTC (and is remembered).
  await header.getByRole('button', { name: 'Show times in UTC' }).click();
  await expect(header.locator('[data-started]')).toHaveText(/^started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC /);

  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await tree.locator('.tree-row[data-path="hosts[1]"]').click();
  const facts = execution.locator('.node-facts');
  await expect(facts.locator('[data-fact="item"]')).toHaveText('item beta · 2 of 3');
  await expect(facts.locator('[data-fact="started"]')).toHaveText(/^started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(/);
  await expect(facts.locator('[data-fact="ended"]')).toHaveText(/ UTC$/);
  await expect(facts.locator('[data-fact="duration"]')).toHaveText(/^took (\d+ ms|\d+\.\d s)$/);
  await expect(facts.locator('[data-fact="user"]')).toHaveText(/^by \S+$/);

  await tree.locator('.tree-row[data-path="stop"]').nth(1).click();
  await tab(page, 'Timeline').click();
  const log = execution.getByRole('table', { name: 'Status log' });
  await expect(log.locator('tbody tr')).toHaveCount(4);
  await expect(log.locator('tbody tr th')).toHaveText([/requested/, /scheduled/, /running/, /succeeded/]);
  for (const at of await log.locator('tbody tr td:nth-child(2)').allTextContents()) expect(at).toMatch(/ UTC$/);
  await header.getByRole('button', { name: 'Show times in local time' }).click();
  await expect(header.locator('[data-started]')).toHaveText(/ (CET|CEST|GMT\+1|GMT\+2) /);
});

test('a running node\'s duration ticks; the timeline draws a bar per task', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.deploy');
  await page.locator('#param-delay').fill('1');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const timing = execution.locator('.execution-header [data-timing]');
  const first = await timing.textContent();
  await expect(timing).not.toHaveText(first ?? '');
  await expect(execution.locator('.execution-header')).toContainText('running for');

  await tab(page, 'Timeline').click();
  const gantt = execution.getByRole('figure', { name: 'Timeline' });
  await expect(gantt.locator('.gantt-row[data-key]').first()).toBeVisible();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  // Every execution below the workflow: prepare, 3 hosts x (itself, stop, restart), verify.
  await expect(gantt.locator('.gantt-row')).toHaveCount(11);
  const widths = await gantt.locator('.gantt-bar').evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
  for (const w of widths) expect(w).toBeGreaterThan(0);
  // prepare ends before verify starts: its bar is to the left. Both bars
  // are read in the page in one step, and read again until both are laid
  // out: a late event may redraw the chart (a bar replaced is not laid out
  // until the next frame, and measures 0).
  await expect
    .poll(() =>
      gantt.evaluate((figure) => {
        const left = (path: string): number | null => {
          const row = [...figure.querySelectorAll('.gantt-row')].find((r) => r.querySelector('.gantt-label')?.textContent === path);
          const rect = row?.querySelector('.gantt-bar')?.getBoundingClientRect();
          return rect && rect.width > 0 ? rect.x : null;
        };
        const [prepare, verify] = [left('prepare'), left('verify')];
        if (prepare === null || verify === null) return 'not laid out yet';
        return prepare < verify ? 'prepare left of verify' : `prepare at ${prepare}, verify at ${verify}`;
      }),
    )
    .toBe('prepare left of verify');
  await gantt.locator('.gantt-row:has(.gantt-label:text-is("verify"))').click();
  await expect(execution.locator('.detail-title')).toHaveText('deploy > verify');
});

test('retries show their attempt', async ({ consolePage: page }) => {
  await openAction(page, 'examples.retry');
  await page.locator('#param-key').fill(`e2e-${Date.now()}`);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  const rows = tree.locator('.tree-row[data-path="unreliable"]');
  await expect(rows).toHaveCount(3);
  await expect(rows.locator('.attempt')).toHaveText(['', 'retry 1', 'retry 2']);
  await expect(rows.nth(0)).toHaveAttribute('data-status', 'failed');
  await expect(rows.nth(2)).toHaveAttribute('data-status', 'succeeded');
  await rows.nth(1).click();
  await expect(execution.locator('[data-fact="attempt"]')).toHaveText('attempt 2 (retry 1)');
});
