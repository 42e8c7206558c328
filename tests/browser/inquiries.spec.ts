// Inquiries in the console: a workflow asks (`core.ask` in the fixture pack
// `asks`), the run's tree and the Inquiries screen show the question with a
// form generated from its schema, answers the form or the engine refuses say
// why, and the accepted answer resumes the workflow live.
import { completed, expect, openAction, tab, test } from './server';

type Page = import('@playwright/test').Page;

/** The page's record of the "waiting for your answer" notifications. */
async function askedNotices(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (window as unknown as { __stormdesk: { inquiries: { asked: { sent: { id: string }[] } } } }).__stormdesk.inquiries.asked.sent.map((s) => s.id),
  );
}

test('a workflow asks: tree and list show it, refused answers say why, the answer resumes it live', async ({ consolePage: page }) => {
  const count = page.locator('.tab[data-view="inquiries"] .count-badge');
  await expect(count).toBeHidden();
  await openAction(page, 'asks.release');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const execution = page.getByRole('region', { name: 'Execution' });
  const status = execution.locator('.execution-header .badge');
  const tree = execution.getByRole('tree', { name: 'Workflow tree' });

  // The workflow pauses on the question; the top bar counts it.
  await expect(status).toHaveAttribute('data-status', 'paused', { timeout: 30_000 });
  await expect(count).toHaveText('1');
  const asking = tree.locator('.tree-row[data-path="approve"]');
  await expect(asking).toHaveAttribute('data-asks', '');
  await expect(asking.locator('.node-action')).toHaveText('waiting for a response');
  await expect(tree.locator('.tree-row.not-reached[data-path="release"]')).toBeVisible();
  await expect(execution.locator('.asking')).toContainText('Waiting for a response at release > approve');
  const inquiryId = await asking.getAttribute('data-key');
  await expect.poll(() => askedNotices(page)).toContain(inquiryId);

  // The question's node is selected; its details hold the prompt and the form.
  await asking.click();
  await expect(execution.locator('.detail-title')).toHaveText('release > approve');
  const form = execution.locator('form.inquiry-form');
  await expect(form.locator('.inquiry-prompt')).toHaveText(['Release the build?', 'The build passed. Approve the release and say how to roll it out.']);
  await expect(form.locator('[data-field="replicas"] .help')).toHaveText('How many replicas to run.');
  await expect(form.locator('[data-field="replicas"] label')).toContainText('integer 1–10');
  await expect(form.locator('[data-field="approved"] input')).toHaveAttribute('type', 'checkbox');
  await expect(form.locator('[data-field="environment"] option')).toHaveText(['pick one', 'staging', 'production']);
  await expect(form.locator('.inquiry-terms')).toContainText('route releases');

  // What the form checks itself: required properties, numbers and their range.
  const answer = form.getByRole('button', { name: 'Answer' });
  await form.locator('[data-field="approved"] input').check();
  await answer.click();
  await expect(form.locator('[data-field="replicas"] .field-error')).toHaveText('replicas is required');
  await expect(form.locator('[data-field="environment"] .field-error')).toHaveText('environment is required');
  await form.locator('[data-field="replicas"] input').fill('0');
  await form.locator('[data-field="environment"] select').selectOption('staging');
  await answer.click();
  await expect(form.locator('[data-field="replicas"] .field-error')).toHaveText('replicas must be at least 1');
  await expect(form.locator('[data-field="environment"] .field-error')).toHaveText('');

  // What only the engine checks (a pattern): its message, and nothing moves.
  await form.locator('[data-field="replicas"] input').fill('3');
  await form.locator('[data-field="ticket"] input').fill('nope');
  await answer.click();
  await expect(form.locator('.inquiry-error')).toContainText('did not pass schema validation');
  await expect(form.locator('.inquiry-error')).toContainText('does not match');
  await expect(status).toHaveAttribute('data-status', 'paused');
  await expect(count).toHaveText('1');

  // The list shows the same question, with a link back to the run.
  await page.locator('.tab[data-view="inquiries"]').click();
  const screen = page.getByRole('region', { name: 'Inquiries' });
  const card = screen.locator(`.inquiry-card[data-inquiry="${inquiryId}"]`);
  await expect(card.locator('.inquiry-source')).toHaveText('approve');
  await expect(card.locator('form.inquiry-form [data-field="ticket"]')).toBeVisible();
  await page.goBack();
  await expect(form.locator('[data-field="ticket"] input')).toHaveValue('nope');

  // A valid answer: the workflow goes on, live.
  await form.locator('[data-field="ticket"] input').fill('OPS-7');
  await answer.click();
  await expect(status).toHaveAttribute('data-status', 'succeeded', { timeout: 30_000 });
  await expect(tree.locator('.tree-row[data-path="approve"]')).toHaveAttribute('data-status', 'succeeded');
  await expect(tree.locator('.tree-row[data-path="release"]')).toHaveAttribute('data-status', 'succeeded');
  await expect(tree.locator('.tree-row[data-asks]')).toHaveCount(0);
  await expect(execution.locator('.asking')).toBeHidden();
  await expect(count).toBeHidden();
  await tree.locator('.tree-row[data-path="release"]').click();
  await expect(execution.getByLabel('Output log')).toContainText('released 2.0 to staging with 3 replicas (OPS-7)');
  await tree.locator('.tree-row').first().click();
  await tab(page, 'Result').click();
  await expect(execution.locator('pre[data-part="output"]')).toContainText('OPS-7');
  await expect(execution.locator('pre[data-part="output"]')).toContainText('staging');
});

test('the Inquiries screen answers one; only the users it names may answer another', async ({ consolePage: page, server }) => {
  const release = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'asks.release', parameters: { version: '3.1' } });
  const guarded = await server.api<{ id: string }>('POST', '/v1/executions', {
    action: 'core.ask',
    parameters: { users: ['someone-else'], route: 'ops' },
  });
  const count = page.locator('.tab[data-view="inquiries"] .count-badge');
  await expect(count).toHaveText('2', { timeout: 30_000 });
  await count.click();
  await expect(page).toHaveURL(/#\/inquiries$/);
  const screen = page.getByRole('region', { name: 'Inquiries' });
  await expect(screen.locator('.inquiry-card')).toHaveCount(2);

  // StackStorm's default question, for someone else: the engine refuses, the card says why.
  const other = screen.locator(`.inquiry-card[data-inquiry="${guarded.id}"]`);
  await expect(other.locator('.inquiry-who')).toContainText('Only someone-else may answer');
  await expect(other.locator('[data-field="continue"] .help')).toHaveText('Would you like to continue the workflow?');
  await other.locator('[data-field="continue"] input').check();
  await other.getByRole('button', { name: 'Answer' }).click();
  await expect(other.locator('.inquiry-error')).toContainText('does not have permission to respond');

  // The workflow's question, answered here: its card leaves, the run goes on.
  const mine = screen.locator(`.inquiry-card:not([data-inquiry="${guarded.id}"])`);
  await expect(mine.locator('.inquiry-source')).toHaveText('approve');
  await mine.locator('[data-field="approved"] input').check();
  await mine.locator('[data-field="replicas"] input').fill('2');
  await mine.locator('[data-field="environment"] select').selectOption('production');
  await mine.getByRole('button', { name: 'Answer' }).click();
  await expect(screen.locator('.inquiry-card')).toHaveCount(1);
  await expect(count).toHaveText('1');
  const done = await completed(server, release.id);
  expect(done.status).toBe('succeeded');
  const result = await server.api<{ output: { answer: Record<string, unknown> } }>('GET', `/v1/executions/${release.id}/result`);
  expect(result.output.answer).toEqual({ approved: true, replicas: 2, environment: 'production' });

  // An Inquiry run on its own: its execution shows the question too.
  await other.locator('.inquiry-source').click();
  await expect(page).toHaveURL(new RegExp(`#/execution/${guarded.id}$`));
  const execution = page.getByRole('region', { name: 'Execution' });
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'pending');
  await expect(execution.locator('.asking')).toHaveText('Waiting for a response.');
  await expect(execution.locator('.inquiry-slot form.inquiry-form [data-field="continue"]')).toBeVisible();

  // Canceled elsewhere: the question goes away, here and in the list.
  await server.api('DELETE', `/v1/executions/${guarded.id}`);
  await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'canceled');
  await expect(execution.locator('.inquiry-slot')).toBeHidden();
  await expect(execution.locator('.asking')).toBeHidden();
  await page.goBack();
  await expect(screen.locator('.inquiry-card')).toHaveCount(0);
  await expect(screen.getByText('Nothing is waiting for a response.')).toBeVisible();
  await expect(count).toBeHidden();
});
