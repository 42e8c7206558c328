// The console against a real `stormdesk serve`: run from the form, live
// output and result, validation, secrets, cancel, re-run, history, keyboard,
// theme, notifications. Every wait is on UI state (expect's auto-retry).
import { completed, expect, openAction, startServer, tab, test } from './server';

test('the console says when it lost the engine, and comes back by itself when the engine does', async ({ page }) => {
  // A server of its own: this test stops it and starts it again (same home, same address).
  const first = await startServer();
  const address = new URL(first.url).host;
  let second: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    await page.goto(`${first.url}/?token=${first.token}#/`);
    await expect(page.locator('.action-item').first()).toBeVisible();
    const lost = page.locator('.banner.lost');
    await expect(lost).toBeHidden();
    await first.stop({ keepHome: true });
    await expect(lost).toContainText(`Lost the engine: cannot reach the engine at http://${address}`);
    await expect(lost).toContainText('Reconnecting by itself');
    // A screen opened while the engine is away says why it cannot load ...
    await page.evaluate(() => (window.location.hash = '#/action/examples.true'));
    await expect(page.getByRole('alert').filter({ hasText: `cannot reach the engine at http://${address}` }).first()).toBeVisible();
    second = await startServer({ home: first.home, listen: address });
    const run = await second.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
    await completed(second, run.id);
    // ... and loads once it is back; the banner goes, and what ran meanwhile shows.
    await expect(lost).toBeHidden({ timeout: 30_000 });
    await expect(page.getByRole('button', { name: 'Run', exact: true })).toBeVisible();
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
    await expect(page.locator(`tr.execution-row[data-id="${run.id}"]`)).toBeVisible();
  } finally {
    await (second ?? first).stop();
  }
});

test('runs an action from the form and streams its output live', async ({ consolePage: page }) => {
  await openAction(page, 'examples.countdown');
  await page.locator('#param-count').fill('3');
  await page.locator('#param-delay').fill('0.3');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const output = execution.getByLabel('Output log');
  // Live: the first tick shows while the run is still going.
  await expect(output).toContainText('3...');
  await expect(output).toContainText('liftoff');
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await tab(page, 'Result').click();
  const result = execution.locator('.result-view');
  await expect(result).toHaveAttribute('data-kind', 'shell');
  await expect(result.locator('[data-fact="return code"] strong')).toHaveText('0');
  await expect(result.locator('pre[data-part="stdout"]')).toContainText('liftoff');
  await expect(page).toHaveURL(/#\/execution\/[0-9a-f]{24}$/);
});

test('shows a python result and the parameters it ran with', async ({ consolePage: page }) => {
  await openAction(page, 'examples.legacy');
  await page.locator('#param-message').fill('echo me');
  await page.locator('#param-times').fill('2');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  // The first Python run of the worker's engine builds the pack's
  // environment (uv, from the shared cache) before the action starts: tens
  // of seconds on a machine busy compiling.
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await tab(page, 'Result').click();
  await expect(execution.locator('.result-view')).toHaveAttribute('data-kind', 'python');
  await expect(execution.locator('[data-fact="exit code"] strong')).toHaveText('0');
  await tab(page, 'Parameters').click();
  await expect(execution.locator('.parameters')).toContainText('echo me');
});

test('validates fields inline, on the client and from the engine', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.typed');
  const form = page.getByRole('form', { name: 'Parameters of e2e.typed' });
  // Order: position first, then required, then by name; immutable `cmd` hidden.
  // (The runner's own parameters, such as timeout and cwd, are in the form too.)
  await expect(form.locator('.field[data-field]').first()).toHaveAttribute('data-field', 'target');
  const names = await form.locator('.field[data-field]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-field')));
  const mine = names.filter((n) => ['labels', 'level', 'ports', 'retries', 'token', 'verbose'].includes(n ?? ''));
  expect(mine).toEqual(['labels', 'level', 'ports', 'retries', 'token', 'verbose']);
  await expect(form.locator('[data-field="cmd"]')).toHaveCount(0);
  // The default as a hint that does not read as a value.
  await expect(page.locator('#param-retries')).toHaveAttribute('placeholder', 'default: 3');
  await expect(page.locator('#param-level')).toHaveJSProperty('tagName', 'SELECT');

  await page.locator('#param-retries').fill('many');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(form.locator('[data-field="target"] .field-error')).toHaveText('target is required');
  await expect(form.locator('[data-field="retries"] .field-error')).toHaveText('retries must be a whole number');
  await expect(page.getByRole('region', { name: 'Execution' })).toBeHidden();

  // Typing clears a field's error.
  await page.locator('#param-retries').fill('2');
  await expect(form.locator('[data-field="retries"] .field-error')).toBeHidden();

  // What only the engine checks (object syntax) comes back at the field it names.
  await page.locator('#param-target').fill('db1');
  await page.locator('#param-labels').fill('nonsense');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(form.locator('[data-field="labels"]')).toHaveClass(/invalid/);
  await expect(form.locator('[data-field="labels"] .field-error')).toContainText("parameter 'labels' of action e2e.typed must be an object");

  await page.locator('#param-labels').fill('team=ops');
  await page.locator('#param-ports').fill('80, 443');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await tab(page, 'Result').click();
  await expect(execution.locator('pre[data-part="stdout"]')).toHaveText('target=db1 level=medium retries=2');
});

test('masks secrets, with a reveal toggle in the form only', async ({ consolePage: page }) => {
  await openAction(page, 'e2e.typed');
  const secret = page.locator('#param-token');
  await expect(secret).toHaveAttribute('type', 'password');
  await secret.fill('hunter2-very-secret');
  await page.getByRole('button', { name: 'Show token' }).click();
  await expect(secret).toHaveAttribute('type', 'text');
  await page.getByRole('button', { name: 'Hide token' }).click();
  await expect(secret).toHaveAttribute('type', 'password');
  await page.locator('#param-target').fill('web');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await tab(page, 'Parameters').click();
  await expect(execution.locator('.parameters')).toContainText('********');
  await expect(execution).not.toContainText('hunter2-very-secret');
});

test('cancels a long run', async ({ consolePage: page }) => {
  await openAction(page, 'examples.sleep');
  await page.locator('#param-seconds').fill('120');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.getByLabel('Output log')).toContainText('sleeping 120s');
  await execution.getByRole('button', { name: 'Cancel' }).click();
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'canceled');
  await expect(execution.getByRole('button', { name: 'Cancel' })).toHaveCount(0);
});

test('re-runs with the same parameters, edited', async ({ consolePage: page }) => {
  await openAction(page, 'examples.hello');
  await page.locator('#param-name').fill('first');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await tab(page, 'Result').click();
  await expect(execution.locator('pre[data-part="stdout"]')).toHaveText('Hello, first');
  const firstId = await execution.locator('.execution-id').textContent();

  await execution.getByRole('button', { name: 'Re-run' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Re-run examples.hello' })).toBeVisible();
  await expect(page.locator('#param-name')).toHaveValue('first');
  await page.locator('#param-name').fill('second');
  await page.getByRole('form', { name: 'Parameters of examples.hello' }).getByRole('button', { name: 'Re-run' }).click();
  await expect(execution.locator('.execution-id')).not.toHaveText(firstId ?? '');
  await expect(execution.locator('pre[data-part="stdout"]')).toHaveText('Hello, second');

  // `r` on the execution shown opens the same form.
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('r');
  await expect(page.locator('#param-name')).toHaveValue('second');
});

test('history filters by status, action and full text, and opens an execution', async ({ consolePage: page, server }) => {
  const marker = `needle${Date.now()}`;
  const wait = async (id: string) => {
    await expect
      .poll(async () => (await server.api<{ status: string }>('GET', `/v1/executions/${id}`)).status)
      .toMatch(/succeeded|failed/);
  };
  const hello = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.hello', parameters: { name: marker } });
  const fail = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.fail', parameters: {} });
  await wait(hello.id);
  await wait(fail.id);

  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
  const rows = page.locator('tr.execution-row');
  await expect(rows.filter({ has: page.locator(`[data-status]`) }).first()).toBeVisible();
  await expect(page.locator(`tr[data-id="${hello.id}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-id="${fail.id}"]`)).toBeVisible();

  // Full text over parameters and results.
  await page.getByRole('searchbox', { name: 'Search executions' }).fill(marker);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-id', hello.id);
  await page.getByRole('searchbox', { name: 'Search executions' }).fill('');

  await page.locator('#history-status').selectOption('failed');
  await expect(page.locator(`tr[data-id="${hello.id}"]`)).toHaveCount(0);
  await expect(page.locator(`tr[data-id="${fail.id}"]`)).toBeVisible();
  for (const status of await rows.getAttribute('data-status', { timeout: 1000 }).then(() => rows.evaluateAll((r) => r.map((x) => x.getAttribute('data-status'))))) {
    expect(status).toBe('failed');
  }
  await page.locator('#history-status').selectOption('');
  await page.locator('#history-action').fill('examples.hello');
  await expect(page.locator(`tr[data-id="${fail.id}"]`)).toHaveCount(0);
  await expect(page.locator(`tr[data-id="${hello.id}"]`)).toBeVisible();

  await page.locator(`tr[data-id="${hello.id}"] td.when-cell`).click();
  await expect(page).toHaveURL(new RegExp(`#/execution/${hello.id}$`));
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.getByLabel('Output log')).toContainText(`Hello, ${marker}`);
  // The way back keeps the filters.
  await execution.getByRole('link', { name: 'History' }).click();
  await expect(page).toHaveURL(/#\/history\?action=examples.hello$/);
  await expect(page.locator('#history-action')).toHaveValue('examples.hello');

  // A new run shows up in the history live.
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
  await page.locator('#history-action').fill('');
  await expect(page.locator(`tr[data-id="${hello.id}"]`)).toBeVisible();
  const live = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
  await expect(page.locator(`tr[data-id="${live.id}"]`)).toHaveAttribute('data-status', 'succeeded');
});

test('keyboard: search, move, open, help', async ({ consolePage: page }) => {
  await page.keyboard.press('/');
  await expect(page.getByRole('searchbox', { name: 'Search actions' })).toBeFocused();
  await page.keyboard.type('count');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'examples.countdown' })).toBeVisible();

  await page.getByRole('searchbox', { name: 'Search actions' }).fill('examples');
  await page.getByRole('searchbox', { name: 'Search actions' }).press('ArrowDown');
  await page.getByRole('searchbox', { name: 'Search actions' }).press('Enter');
  const second = await page.locator('.action-item').nth(1).getAttribute('data-ref');
  await expect(page.getByRole('heading', { level: 1, name: second ?? '' })).toBeVisible();

  await page.getByRole('searchbox', { name: 'Search actions' }).press('Escape');
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help).toBeVisible();
  await expect(help).toContainText('Re-run');
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();

  await page.keyboard.press('g');
  await page.keyboard.press('h');
  await expect(page.getByRole('heading', { level: 1, name: 'History' })).toBeVisible();
});

test('theme follows the system, toggles and is remembered', async ({ consolePage: page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  const html = page.locator('html');
  await expect(html).not.toHaveAttribute('data-theme', /.+/);
  await page.locator('#theme-toggle').click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe('rgb(17, 20, 28)');
  await page.reload();
  await expect(page.locator('.action-item').first()).toBeVisible();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await page.keyboard.press('t');
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.keyboard.press('t');
  await expect(html).not.toHaveAttribute('data-theme', /.+/);
});

test('notifies when a long run finishes', async ({ consolePage: page, context, server }) => {
  await context.grantPermissions(['notifications'], { origin: server.url });
  await page.evaluate(() => localStorage.setItem('stormdesk.notifyAfter', '1'));
  await page.reload();
  await expect(page.locator('.action-item').first()).toBeVisible();
  await openAction(page, 'examples.sleep');
  await page.locator('#param-seconds').fill('2');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Execution' }).locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __stormdesk: { notifier: { sent: { title: string }[] } } }).__stormdesk.notifier.sent.map((s) => s.title)))
    .toEqual(['examples.sleep succeeded']);
});
