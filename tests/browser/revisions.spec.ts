// Picking a git pack's revision per run: the picker lists tags newest first
// (the installed revision marked), the form reloads the action's parameters
// at the revision picked, and the run records the commit it resolved to.
import { expect, openAction, tab, test } from './server';

test('picks a revision: the form follows it and the run records its commit', async ({ consolePage: page }) => {
  await openAction(page, 'gitpack.greet');
  const picker = page.locator('#revision');
  await expect(picker).toBeVisible();
  const tags = picker.locator('optgroup[label="Tags"] option');
  await expect(tags).toHaveText([/^v1\.1\.0 · /, /^v1\.0\.0 · /]);
  // The installed revision is marked: its branch (and its commit in the commit list).
  await expect(picker.locator('optgroup[label="Branches"] option[data-installed="true"]')).toHaveCount(1);
  await expect(picker.locator('optgroup[label="Tags"] option[data-installed="true"]')).toHaveCount(0);
  await expect(picker.locator('optgroup[label="Branches"] option')).toContainText([/^main · .*\(installed\)$/]);

  // The installed revision (main) has `shout`; v1.0.0 has neither `greeting` nor `shout`.
  await expect(page.locator('#param-shout')).toBeVisible();
  await picker.selectOption('v1.0.0');
  await expect(page.locator('#param-greeting')).toHaveCount(0);
  await expect(page.locator('#param-shout')).toHaveCount(0);
  await expect(page.locator('#revision')).toHaveValue('v1.0.0');
  await page.locator('#param-name').fill('past');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await tab(page, 'Result').click();
  await expect(execution.locator('pre[data-part="stdout"]')).toHaveText('v1 hello past');
  await expect(execution.locator('.execution-header .revision')).toHaveText(/^v1\.0\.0 → [0-9a-f]{7}$/);

  // v1.1.0 brings `greeting` back, and the typed name stays.
  await page.locator('#revision').selectOption('v1.1.0');
  await expect(page.locator('#param-greeting')).toBeVisible();
  await expect(page.locator('#param-name')).toHaveValue('past');

  // Re-run at another revision.
  await execution.getByRole('button', { name: 'Re-run' }).click();
  await expect(page.locator('#revision')).toHaveValue('v1.0.0');
  await page.locator('#revision').selectOption('v1.1.0');
  await expect(page.locator('#param-greeting')).toBeVisible();
  await page.locator('#param-greeting').fill('Hi');
  await page.getByRole('form', { name: 'Parameters of gitpack.greet' }).getByRole('button', { name: 'Re-run' }).click();
  await expect(execution.locator('pre[data-part="stdout"]')).toHaveText('v1.1 Hi past');
  await expect(execution.locator('.execution-header .revision')).toHaveText(/^v1\.1\.0 → [0-9a-f]{7}$/);
});
