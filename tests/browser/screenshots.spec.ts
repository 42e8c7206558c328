// The screenshots in docs/screenshots (referenced by docs/console.md), taken
// from a real `stormdesk serve` with real runs. Not part of the test run:
// `npm run screenshots` (STORMDESK_SCREENSHOTS=1) writes them.
import { join } from 'node:path';

import { expect, openAction, REPO, test } from './server';

const OUT = join(REPO, 'docs/screenshots');

test.skip(!process.env.STORMDESK_SCREENSHOTS, 'run with npm run screenshots');

test('screenshots of the main screens', async ({ consolePage: page, server }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  const shot = (name: string) => page.screenshot({ path: join(OUT, name) });

  // Some history first.
  const runs: [string, Record<string, unknown>][] = [
    ['examples.hello', { name: 'operator' }],
    ['examples.fail', {}],
    ['examples.sysinfo', {}],
    ['examples.countdown', { count: 2, delay: 0.1 }],
    ['e2e.typed', { target: 'db1', level: 'high' }],
  ];
  for (const [action, parameters] of runs) await server.api('POST', '/v1/executions', { action, parameters });

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

  // A run with live output and its result.
  await openAction(page, 'examples.countdown');
  await page.locator('#param-count').fill('4');
  await page.locator('#param-delay').fill('0.2');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await execution.scrollIntoViewIfNeeded();
  await shot('execution.png');

  // The live tree of a nested workflow, when the engine runs workflows.
  const actions = await server.api<{ ref: string; supported: boolean }[]>('GET', '/v1/actions');
  if (actions.find((a) => a.ref === 'e2e.deploy')?.supported) {
    await openAction(page, 'e2e.deploy');
    await page.locator('#param-delay').fill('1');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const tree = execution.getByRole('tree', { name: 'Workflow tree' });
    await expect(tree.locator('.tree-row[data-path="restart"]').first()).toBeVisible({ timeout: 30_000 });
    await tree.locator('.tree-row[data-path="hosts[0]"]').click();
    await execution.scrollIntoViewIfNeeded();
    await shot('workflow-tree.png');
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  }

  // History.
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.locator('tr.execution-row').nth(5)).toBeVisible();
  await shot('history.png');

  // Dark theme: the execution screen.
  await page.locator('tr.execution-row[data-status="failed"]').first().click();
  await expect(page.locator('.execution-header .badge')).toHaveAttribute('data-status', 'failed');
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
