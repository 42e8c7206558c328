// Workflows in the console: the live tree of a nested workflow (tasks,
// with-items subworkflows, tasks not reached yet), the combined output of a
// subtree, pause and resume. Needs the engine's workflow support (orquesta
// runner, /children?depth=-1, /graph, pause/resume): run with
// STORMDESK_E2E_WORKFLOWS=1 (see playwright.config.ts).
import { completed, expect, openAction, tab, test } from './server';

test('a nested workflow fills in its tree live', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.deploy');
  await page.locator('#param-delay').fill('0.8');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree).toBeVisible();
  // From the definition, before it runs: `verify` greyed.
  await expect(tree.locator('.tree-row.not-reached[data-path="verify"]')).toBeVisible();
  await expect(tree.locator('.tree-row[data-path="prepare"]')).toBeVisible();
  // with-items: one subworkflow per host, each with its own tasks.
  for (const i of [0, 1, 2]) await expect(tree.locator(`.tree-row[data-path="hosts[${i}]"]`)).toBeVisible();
  await expect(tree.locator('.tree-row[data-path="restart"]')).toHaveCount(3);
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await expect(tree.locator('.tree-row.not-reached')).toHaveCount(0);
  await expect(tree.locator('.tree-row:not([hidden])')).toHaveCount(12);
  await expect(tree.locator('.tree-row:not([data-status="succeeded"])')).toHaveCount(0);
  // The resolved commit per node is shown only for git packs: none here.

  // The combined tail of one host's subtree, prefixed with task paths.
  await tree.locator('.tree-row[data-path="hosts[1]"]').click();
  await expect(execution.locator('.detail-title')).toHaveText('deploy > hosts[1]');
  const combined = execution.getByLabel('Output log');
  await expect(combined).toContainText('deploy > hosts[1] > stop');
  await expect(combined).toContainText('deploy > hosts[1] > restart');
  await expect(combined.locator('.line')).toContainText(['stop beta start', 'stop beta done', 'restart beta start', 'restart beta done']);

  // Collapsed, a node shows its descendants by status.
  await tree.locator('.tree-row[data-path="hosts[0]"] .twisty').click();
  await expect(tree.locator('.tree-row[data-path="hosts[0]"] .count[data-status="succeeded"]')).toHaveText('2');
  await expect(tree.locator('.tree-row:not([hidden])')).toHaveCount(10);

  // The workflow's result: output and errors.
  await tree.locator('.tree-row').first().click();
  await tab(page, 'Result').click();
  await expect(execution.locator('.result-view')).toHaveAttribute('data-kind', 'workflow');
  await expect(execution.locator('pre[data-part="output"]')).toContainText('alpha');
});

test('a task\'s name is never cut short for its action\'s long name', async ({ consolePage: page, server }) => {
  const run = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.long_tasks', parameters: {} });
  await completed(server, run.id);
  await page.goto(`${server.url}/#/execution/${run.id}`);
  const tree = page.getByRole('region', { name: 'Execution' }).getByRole('tree', { name: 'Workflow tree' });
  const labels = tree.locator('.tree-row:not([hidden]) .label');
  await expect(labels).toHaveText(['e2e.long_tasks', 'first', 'second']);
  // Cut when its text is wider than its box (even by a fraction of a pixel: the ellipsis shows).
  const cut = await labels.evaluateAll((els) =>
    els
      .filter((el) => {
        const text = document.createRange();
        text.selectNodeContents(el);
        return text.getBoundingClientRect().width > el.getBoundingClientRect().width + 0.01;
      })
      .map((el) => el.textContent),
  );
  expect(cut).toEqual([]);
});

test('pauses and resumes a running workflow', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.deploy');
  await page.locator('#param-delay').fill('1.5');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const badge = execution.locator('.execution-header .badge');
  await expect(badge).toHaveAttribute('data-status', 'running');
  await execution.getByRole('button', { name: 'Pause' }).click();
  await expect(badge).toHaveAttribute('data-status', 'paused', { timeout: 30_000 });
  await execution.getByRole('button', { name: 'Resume' }).click();
  await expect(badge).toHaveAttribute('data-status', /resuming|running/);
  await expect(badge).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
});

test('the bundled greet_flow runs from the console', async ({ consolePage: page }) => {
  await openAction(page, 'examples.greet_flow');
  await page.locator('#param-name').fill('tree');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });
  await expect(tree.locator('.tree-row[data-path="greet"]')).toHaveAttribute('data-status', 'succeeded');
  await expect(tree.locator('.tree-row[data-path="countdown"]')).toHaveAttribute('data-status', 'succeeded');
  await tree.locator('.tree-row').first().click();
  await expect(execution.getByLabel('Output log')).toContainText('greet_flow > countdown');
  await tab(page, 'Result').click();
  await expect(execution.locator('pre[data-part="output"]')).toContainText('Hello, tree');
});
