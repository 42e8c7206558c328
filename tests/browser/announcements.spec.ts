// Announcements in the console: `core.announcement` runs (through the API,
// as a rule or another client would), the page shows a toast with the route,
// the message as text and a link to the execution that announced; the top
// bar keeps the session's recent ones; the notifications setting decides the
// OS notification.
import { completed, expect, test, type Server } from './server';

type Page = import('@playwright/test').Page;

/**
 * Opens the console and waits until its event stream is connected (the
 * engine subscribes before it answers): announcements are live only.
 */
async function openConsole(page: Page, server: Server): Promise<void> {
  const streaming = page.waitForResponse((r) => r.url().includes('/v1/stream') && r.url().includes('stormdesk.announcement') && r.ok());
  await page.goto(`${server.url}/?token=${server.token}`);
  await streaming;
  await expect(page.locator('.action-item').first()).toBeVisible();
}

async function announce(server: Server, route: string, message: unknown): Promise<string> {
  const e = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'core.announcement', parameters: { route, message } });
  expect((await completed(server, e.id)).status).toBe('succeeded');
  return e.id;
}

/** The page's record of announcement notifications. */
async function notified(page: Page): Promise<{ executionId: string; title: string; body: string }[]> {
  return page.evaluate(
    () =>
      (window as unknown as { __stormdesk: { announcements: { notifier: { sent: { executionId: string; title: string; body: string }[] } } } }).__stormdesk
        .announcements.notifier.sent,
  );
}

test('an announcement shows as a toast with its route, message and execution, and in the recent list', async ({ page, server }) => {
  await openConsole(page, server);
  const toasts = page.getByRole('region', { name: 'New announcements' });
  const button = page.getByRole('button', { name: /^Announcements/ });
  await expect(button.locator('.count-badge')).toBeHidden();

  const id = await announce(server, 'ops.deploys', { message: 'Release 4.2 is live' });
  const toast = toasts.locator(`.toast[data-execution="${id}"]`);
  await expect(toast.locator('.announcement-text')).toHaveText('Announcement on ops.deploys: Release 4.2 is live');
  await expect(toast.locator('.announcement-route')).toHaveText('ops.deploys');
  await expect(toast.getByRole('link', { name: 'Open the execution' })).toHaveAttribute('href', `#/execution/${id}`);
  await expect(button.locator('.count-badge')).toHaveText('1');
  await expect.poll(() => notified(page)).toEqual([{ executionId: id, title: 'Announcement on ops.deploys', body: `Release 4.2 is live · ${id}` }]);

  // A second one (an object without `message`: compact JSON) stacks above; each is dismissed on its own.
  const second = await announce(server, 'general', { build: 7, ok: true });
  await expect(toasts.locator('.toast .announcement-text')).toHaveText(['Announcement on general: {"build":7,"ok":true}', 'Announcement on ops.deploys: Release 4.2 is live']);
  await toasts.locator(`.toast[data-execution="${second}"]`).getByRole('button', { name: 'Dismiss' }).click();
  await expect(toasts.locator('.toast')).toHaveCount(1);

  // The recent list keeps both, newest first; opening it marks them seen.
  await expect(button.locator('.count-badge')).toHaveText('2');
  await button.click();
  const panel = page.getByRole('dialog', { name: 'Recent announcements' });
  await expect(panel.locator('.announcement-item .announcement-text')).toHaveText([
    'Announcement on general: {"build":7,"ok":true}',
    'Announcement on ops.deploys: Release 4.2 is live',
  ]);
  await expect(button.locator('.count-badge')).toBeHidden();
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();

  // The toast's link opens the execution that announced.
  await toast.getByRole('link', { name: 'Open the execution' }).click();
  await expect(page).toHaveURL(new RegExp(`#/execution/${id}$`));
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await expect(execution.locator('.execution-id')).toHaveText(id);
  await expect(toasts.locator('.toast')).toHaveCount(0);
});

test('markup in an announcement is shown as text; notifications off means no OS notification', async ({ page, server }) => {
  await page.addInitScript(() => localStorage.setItem('stormdesk.notify', 'off'));
  await openConsole(page, server);
  const markup = '<img src=x onerror="window.__announced_markup=1">';
  const id = await announce(server, 'ops', { message: markup });
  const toast = page.getByRole('region', { name: 'New announcements' }).locator(`.toast[data-execution="${id}"]`);
  await expect(toast.locator('.announcement-message')).toHaveText(markup);
  await expect(toast.locator('img')).toHaveCount(0);
  await page.getByRole('button', { name: /^Announcements/ }).click();
  const item = page.getByRole('dialog', { name: 'Recent announcements' }).locator(`.announcement-item[data-execution="${id}"]`);
  await expect(item.locator('.announcement-message')).toHaveText(markup);
  await expect(item.locator('img')).toHaveCount(0);
  expect(await page.evaluate(() => 'announced_markup' in window || '__announced_markup' in window)).toBe(false);
  expect(await notified(page)).toEqual([]);
});
