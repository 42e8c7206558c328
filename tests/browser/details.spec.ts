// The smaller things an operator trips over: long names, actions that
// cannot run, revisions offered only where there are some, runner options
// folded, status icons that draw whatever the fonts.
import { expect, openAction, tab, test } from './server';

test('a long action name is cut with an ellipsis and told in full on hover', async ({ consolePage: page }) => {
  const ref = 'e2e.long_name_for_an_action_that_goes_on_and_on_and_on';
  const item = page.locator(`.action-item[data-ref="${ref}"]`);
  await expect(item).toHaveAttribute('title', new RegExp(`^${ref.replace(/\./g, '\\.')}`));
  const name = item.locator('.action-name');
  expect(await name.evaluate((el) => getComputedStyle(el).textOverflow)).toBe('ellipsis');
  expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
  // One line: the runner stays beside the name.
  const short = page.locator('.action-item[data-ref="e2e.step"]');
  expect((await item.boundingBox())!.height).toBeLessThanOrEqual((await short.boundingBox())!.height + 1);
  await item.click();
  const heading = page.getByRole('heading', { level: 1 });
  await expect(heading).toHaveAttribute('title', ref);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  // The header keeps its buttons on its first line, the name cut instead.
  const main = execution.locator('.header-main');
  const rerun = main.getByRole('button', { name: 'Re-run' });
  await page.setViewportSize({ width: 1000, height: 800 });
  expect(Math.abs((await rerun.boundingBox())!.y - (await main.locator('.badge').boundingBox())!.y)).toBeLessThan(12);
  await expect(main.locator('.execution-action')).toHaveAttribute('title', ref);
});

test('actions that cannot run here are folded under their pack', async ({ consolePage: page }) => {
  const unsupported = page.locator('.action-item[data-ref="e2e.on_mistral"]');
  await expect(unsupported).toBeHidden();
  const fold = page.locator('.pack[data-pack="e2e"] details.unsupported-actions');
  await expect(fold.locator('summary')).toHaveText('1 not runnable here');
  await fold.locator('summary').click();
  await expect(unsupported).toBeVisible();
  await expect(unsupported).toHaveAttribute('title', /mistral-v2/);
  // A search finds them too.
  await page.getByRole('searchbox', { name: 'Search actions' }).fill('on_mistral');
  await expect(page.locator('.action-item[data-ref="e2e.on_mistral"]:not(.folded)')).toBeVisible();
});

test('a revision is offered only for git packs; runner options are folded', async ({ consolePage: page }) => {
  // A script action of a pack that is not a git repository: no revision at all.
  await openAction(page, 'examples.countdown');
  await expect(page.locator('#revision')).toHaveCount(0);
  await expect(page.locator('[data-field="content_version"]')).toHaveCount(0);
  // A git pack: the picker.
  await openAction(page, 'gitpack.greet');
  await expect(page.locator('#revision')).toBeVisible();

  // A workflow's inputs first; runner options (`notify`) folded away.
  await openAction(page, 'e2e.broken');
  const form = page.getByRole('form', { name: 'Parameters of e2e.broken' });
  await expect(form.locator(':scope > .field[data-field]')).toHaveCount(1);
  await expect(form.locator(':scope > .field[data-field="target"]')).toBeVisible();
  const options = form.locator('details.runner-options');
  await expect(options.locator('summary')).toHaveText('Runner options (notify)');
  await expect(options.locator('[data-field="notify"]')).toBeHidden();
  // A shell action: its own parameter first, the runner's folded.
  await openAction(page, 'examples.hello');
  const hello = page.getByRole('form', { name: 'Parameters of examples.hello' });
  await expect(hello.locator(':scope > .field[data-field]')).toHaveCount(1);
  await expect(hello.locator('details.runner-options summary')).toContainText('timeout');
});

test('status icons are drawn by the console, not a font', async ({ consolePage: page }) => {
  await expect(page.locator('#stormdesk-icons symbol#i-stopwatch')).toHaveCount(1);
  await openAction(page, 'e2e.slow');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'timeout', { timeout: 30_000 });
  await tab(page, 'Timeline').click();
  const row = execution.getByRole('table', { name: 'Status log' }).locator('tr[data-status="timeout"]');
  await expect(row.locator('svg use')).toHaveAttribute('href', '#i-stopwatch');
  const size = await row.locator('svg').boundingBox();
  expect(size!.width).toBeGreaterThan(8);
});
