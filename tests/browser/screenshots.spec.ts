// The screenshots in docs/screenshots (referenced by docs/console.md and the
// README), taken from a real `stormdesk serve` with real runs. Not part of
// the test run: `npm run screenshots` (STORMDESK_SCREENSHOTS=1) writes them.
import { join } from 'node:path';

import { completed, expect, openAction, REPO, tab, test } from './server';

const OUT = join(REPO, 'docs/screenshots');

test.skip(!process.env.STORMDESK_SCREENSHOTS, 'run with npm run screenshots');

test('screenshots of the main screens', async ({ consolePage: page, server }) => {
  test.setTimeout(300_000);
  await page.emulateMedia({ colorScheme: 'light' });
  const shot = (name: string) => page.screenshot({ path: join(OUT, name) });
  const execution = page.getByRole('region', { name: 'Execution' });

  // Some history first.
  const runs: [string, Record<string, unknown>][] = [
    ['examples.hello', { name: 'operator' }],
    ['examples.fail', {}],
    ['examples.sysinfo', {}],
    ['examples.countdown', { count: 2, delay: 0.1 }],
    ['e2e.typed', { target: 'db1', level: 'high' }],
    ['e2e.deploy', { delay: 0.1 }],
  ];
  const ids: string[] = [];
  for (const [action, parameters] of runs) ids.push((await server.api<{ id: string }>('POST', '/v1/executions', { action, parameters })).id);
  for (const id of ids) await completed(server, id);
  const rollout = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.rollout', parameters: {} });
  await completed(server, rollout.id);
  const sleeping = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.sleep', parameters: { seconds: 120 } });

  // The start screen: running and recent runs.
  await page.goto(`${server.url}/#/`);
  await expect(page.getByRole('table', { name: 'Running now' }).locator(`tr[data-run="${sleeping.id}"]`)).toBeVisible();
  await shot('start.png');
  await server.api('DELETE', `/v1/executions/${sleeping.id}`);

  // Catalogue and form, with the revision picker of a git pack.
  await openAction(page, 'gitpack.greet');
  await expect(page.locator('#revision')).toBeVisible();
  await page.locator('#param-name').fill('operator');
  await shot('actions-form.png');

  // A typed form with validation errors.
  await openAction(page, 'e2e.typed');
  await page.locator('#param-retries').fill('many');
  await page.locator('#param-labels').fill('team=ops');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.locator('[data-field="retries"] .field-error')).not.toBeEmpty();
  await shot('form-validation.png');

  // A run: its output, with timestamps.
  await openAction(page, 'examples.countdown');
  await page.locator('#param-count').fill('4');
  await page.locator('#param-delay').fill('0.2');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  const ran = (await execution.locator('.execution-id').textContent()) ?? '';
  // The execution on its own (as a link or History opens it).
  await page.goto(`${server.url}/#/`);
  await page.goto(`${server.url}/#/execution/${ran}`);
  await execution.getByRole('checkbox', { name: 'Timestamps' }).check();
  await expect(execution.getByLabel('Output log').locator('.line')).toHaveCount(5);
  await shot('execution.png');
  await execution.getByRole('checkbox', { name: 'Timestamps' }).uncheck();

  // The live tree of a nested workflow, mid-flight, with the combined output.
  await openAction(page, 'e2e.deploy');
  await page.locator('#param-delay').fill('1.5');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const live = (await execution.locator('.execution-id').textContent()) ?? '';
  await page.goto(`${server.url}/#/`);
  await page.goto(`${server.url}/#/execution/${live}`);
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree.locator('.tree-row[data-path="restart"]').first()).toBeVisible({ timeout: 30_000 });
  await expect(execution.getByLabel('Output log')).toContainText('restart');
  await shot('workflow-tree.png');
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await tab(page, 'Timeline').click();
  await expect(execution.getByRole('figure', { name: 'Timeline' }).locator('.gantt-row')).toHaveCount(11);
  await shot('timeline.png');
  await tab(page, 'Output').click();

  // Failure first: a failed rollout opens on its failure.
  await page.goto(`${server.url}/#/execution/${rollout.id}`);
  await expect(execution.locator('.failure')).toBeVisible();
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[1] > install');
  await shot('failure.png');

  // History, a workflow run expanded in place.
  await page.goto(`${server.url}/#/history`);
  const deployRow = page.locator(`tr.execution-row[data-id="${ids[5]}"]`);
  await deployRow.getByRole('button', { name: 'Expand e2e.deploy' }).click();
  await expect(page.locator('tr.execution-row[data-depth="1"]')).toHaveCount(5);
  await shot('history.png');

  // Packs: sources, what did not load, an install with its progress.
  await page.goto(`${server.url}/#/packs`);
  await expect(page.locator('.pack-card[data-pack="e2e"] .pack-problems-list.bad')).toBeVisible();
  await shot('packs.png');

  // Dark theme: the failed run.
  await page.goto(`${server.url}/#/execution/${rollout.id}`);
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'failed');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate(() => localStorage.removeItem('stormdesk.theme'));
  await page.locator('#theme-toggle').click();
  await page.locator('#theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await shot('dark.png');

  // Keyboard help.
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await shot('shortcuts.png');
});

// Alone: `npm run screenshots -- -g Inquiries` writes only these two.
test('screenshots of Inquiries', async ({ consolePage: page, server }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  const shot = (name: string) => page.screenshot({ path: join(OUT, name) });
  const execution = page.getByRole('region', { name: 'Execution' });
  const count = page.locator('.tab[data-view="inquiries"] .count-badge');
  await server.api('POST', '/v1/executions', { action: 'core.ask', parameters: { route: 'oncall', users: ['ada'] } });
  await expect(count).toHaveText('1');

  // A workflow waiting for a response, its question selected, a refused answer.
  await openAction(page, 'asks.release');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'paused', { timeout: 30_000 });
  const live = (await execution.locator('.execution-id').textContent()) ?? '';
  await page.goto(`${server.url}/#/`);
  await page.goto(`${server.url}/#/execution/${live}`);
  const form = execution.locator('form.inquiry-form');
  await expect(execution.locator('.detail-title')).toHaveText('release > approve');
  await form.locator('[data-field="approved"] input').check();
  await form.locator('[data-field="replicas"] input').fill('3');
  await form.locator('[data-field="environment"] select').selectOption('production');
  await form.locator('[data-field="ticket"] input').fill('nope');
  await form.getByRole('button', { name: 'Answer' }).click();
  await expect(form.locator('.inquiry-error')).toContainText('does not match');
  // Clicking scrolled the question's panel: from its top, as an operator first sees it.
  await execution.locator('.inquiry-slot').evaluate((el) => el.scrollTo(0, 0));
  await shot('inquiry.png');

  // The list of open Inquiries.
  await count.click();
  await expect(page.getByRole('region', { name: 'Inquiries' }).locator('.inquiry-card form')).toHaveCount(2);
  await shot('inquiries.png');
});
