// Failure first: the header says where and why a run failed, with a link
// that selects the failing task; the tree opens on the first failure; each
// workflow error names its task as a link; a task that could not start is
// drawn failed, never "not reached"; return codes of killed runs say why;
// log lines on stderr are red only when they are errors.
import { completed, expect, openAction, tab, test } from './server';

test('a failed workflow opens on its first failure, and says where and why', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.rollout', parameters: {} });
  expect((await completed(server, started.id)).status).toBe('failed');
  // Opened afresh (from History, a link, a new tab): the tree opens on the failure.
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  const failure = execution.locator('.failure');
  await expect(failure.locator('.failure-where')).toHaveText('Failed at rollout > hosts[1] > install: exit code 2');
  await expect(failure.getByLabel('Last lines of stderr')).toHaveText('web2: disk full on /var');
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree.locator('.tree-row.selected')).toHaveAttribute('data-path', 'install');
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[1] > install');
  await expect(execution.getByLabel('Output log')).toContainText('web2: disk full on /var');

  // Elsewhere in the tree, the header's link brings it back.
  await tree.locator('.tree-row[data-path="hosts[3]"]').click();
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[3]');
  await failure.getByRole('button', { name: 'rollout > hosts[1] > install' }).click();
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[1] > install');

  // The workflow's errors: each names its task, as a link to it.
  await tree.locator('.tree-row').first().click();
  await tab(page, 'Result').click();
  const errors = execution.locator('.result-view ul.errors li');
  await expect(errors).toHaveCount(1);
  await errors.first().getByRole('button', { name: 'hosts' }).click();
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[1]');
  // The with-items item: its value and "2 of 4".
  await expect(execution.locator('[data-fact="item"]')).toHaveText('item web2 · 2 of 4');
});

test('a remote run that failed on a host says which host and why', async ({ consolePage: page, server }) => {
  // Nothing listens on port 1: ssh cannot connect.
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'core.remote', parameters: { hosts: '127.0.0.1:1', cmd: 'true' } });
  const done = (await completed(server, started.id)) as { status: string; result?: Record<string, { return_code?: number }> };
  expect(done.status).toBe('failed');
  const code = done.result?.['127.0.0.1:1']?.return_code;
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const failure = page.getByRole('region', { name: 'Execution' }).locator('.failure');
  await expect(failure).toContainText(`host 127.0.0.1:1: exit code ${code}`);
  await expect(failure.getByLabel('Last lines of stderr')).toContainText('Connection refused');
});

test('a run that fails live points at its failure at once', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.rollout');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  await expect(execution.locator('.failure .failure-where')).toHaveText('Failed at rollout > hosts[1] > install: exit code 2');
  await expect(execution.locator('.detail-title')).toHaveText('rollout > hosts[1] > install');
});

test('a task that could not start is drawn failed with its reason, not as not reached', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.broken', parameters: {} });
  expect((await completed(server, started.id)).status).toBe('failed');
  await page.goto(`${server.url}/#/execution/${started.id}`);
  const execution = page.getByRole('region', { name: 'Execution' });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  const missing = tree.locator('.tree-row[data-path="missing"]');
  await expect(missing).toHaveAttribute('data-status', 'failed');
  await expect(missing).not.toHaveClass(/not-reached/);
  await expect(missing.locator('.icon')).toHaveAttribute('title', /not found/);
  await expect(execution.locator('.failure .failure-where')).toHaveText(
    "Failed at broken > missing: action 'e2e.does_not_exist' not found: check the name with `stormdesk action list`; an action added since the engine started appears once the packs are registered again (`stormdesk pack register`, `st2 pack register`)",
  );
  await expect(execution.locator('.detail-title')).toHaveText('broken > missing');
  await tab(page, 'Result').click();
  await expect(execution.locator('.panel-result')).toContainText("action 'e2e.does_not_exist' not found");
});

test('killed runs say why: a timeout, a cancel', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.slow');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'timeout', { timeout: 30_000 });
  await expect(execution.locator('.failure .failure-where')).toHaveText('Timed out: exit code -9 (killed: timeout): Action failed to complete in 1 seconds');
  await tab(page, 'Result').click();
  await expect(execution.locator('[data-fact="return code"] strong')).toHaveText('-9 (killed: timeout)');
  // The timeout's icon is drawn by the console (no font glyph).
  await expect(execution.locator('.execution-header .badge')).toHaveText('timeout');

  await openAction(page, 'examples.sleep');
  await page.locator('#param-seconds').fill('60');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(execution.getByLabel('Output log')).toContainText('sleeping 60s');
  await execution.getByRole('button', { name: 'Cancel' }).click();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'canceled');
  await expect(execution.locator('.failure')).toBeHidden();
  await tab(page, 'Result').click();
  await expect(execution.locator('[data-fact="return code"] strong')).toHaveText(/^-(9|15) \((killed: )?canceled\)$/);
});

test('log lines on stderr are red only when they are errors', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.logs');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  const log = execution.getByLabel('Output log');
  const info = log.locator('.line', { hasText: 'INFO - starting' });
  const warning = log.locator('.line', { hasText: 'WARNING - disk' });
  const error = log.locator('.line', { hasText: 'ERROR - could not reach db' });
  await expect(info).toHaveClass(/\berr\b/);
  await expect(info).not.toHaveClass(/\bbad\b/);
  await expect(warning).toHaveClass(/\bwarn\b/);
  await expect(error).toHaveClass(/\bbad\b/);
  const red = await error.evaluate((el) => getComputedStyle(el).color);
  const plain = await info.evaluate((el) => getComputedStyle(el).color);
  expect(plain).not.toBe(red);
});
