// The console against a remote server, continued (remote.spec.ts has the
// connection itself): an Inquiry answered remotely, on a `stormdesk serve`
// over TLS and through a StackStorm-shaped front; and every screen through
// that front, where what StackStorm's API has no route or parameter for is
// hidden, not broken. The front (remote-server.ts) is laid out as StackStorm
// behind its nginx and answers 404 to Stormdesk's own routes; every request
// the console sends it is held to StackStorm's API alone
// (tests/api/console_requests.py --stackstorm) and none is answered with an
// error.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Locator, Page } from '@playwright/test';

import { addConnection, addUser, checkContract, cleanUp, docShot, recordRequests, signIn, stackstormShaped, startRemote, TLS_LAUNCH, type Remote } from './remote-server';
import { expect, makeGitPack, openAction, tab, test } from './server';

test.use({ launchOptions: TLS_LAUNCH });

/** Every answer of `origin` with a status of 400 or more (the console's requests). */
function recordFailures(page: Page, origin: string): string[] {
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.url().startsWith(origin) && r.request().method() !== 'OPTIONS' && r.status() >= 400) failed.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
  return failed;
}

/** No screen says something went wrong: no error or alert is shown. */
async function noErrors(page: Page): Promise<void> {
  await expect(page.locator('.error:visible, [role="alert"]:visible')).toHaveCount(0);
}

/** Waits for an execution on the remote to complete; its record. */
async function completedOn(remote: Remote, id: string): Promise<{ id: string; status: string }> {
  let record = { id, status: '' };
  await expect
    .poll(async () => {
      record = await remote.api<{ id: string; status: string }>('GET', `/v1/executions/${id}`);
      return record.status;
    }, { timeout: 60_000 })
    .toMatch(/^(succeeded|failed|timeout|canceled|abandoned)$/);
  return record;
}

for (const via of ['stormdesk', 'stackstorm'] as const) {
  test(`answers an Inquiry on a remote ${via === 'stormdesk' ? 'Stormdesk server over TLS' : 'StackStorm-shaped server'}: the workflow completes there with the answer`, async ({ consolePage: page, server }) => {
    const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
    addUser(home, 'alice', 'alice-pw');
    const remote = await startRemote(home, server.url);
    const st2 = via === 'stackstorm' ? await stackstormShaped(remote) : null;
    const origin = st2 ? st2.url : remote.url;
    const recorded = recordRequests(page, origin);
    const failed = recordFailures(page, origin);
    try {
      await addConnection(page, 'asker', st2 ? `${st2.url}/api/v1` : `${remote.url}/v1`);
      await signIn(page, 'alice', 'alice-pw');
      await openAction(page, 'asks.release');
      await page.locator('#param-version').fill('4.2');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      const execution = page.getByRole('region', { name: 'Execution' });
      const status = execution.locator('.execution-header .badge');
      const tree = execution.getByRole('tree', { name: 'Workflow tree' });
      // Paused on the question, there; the top bar counts it here.
      await expect(status).toHaveAttribute('data-status', 'paused', { timeout: 30_000 });
      const count = page.locator('.tab[data-view="inquiries"] .count-badge');
      await expect(count).toHaveText('1');
      const asking = tree.locator('.tree-row[data-path="approve"]');
      await expect(asking).toHaveAttribute('data-asks', '');
      const inquiryId = await asking.getAttribute('data-key');
      const runId = (await remote.api<{ id: string }[]>('GET', '/v1/executions?action=asks.release'))[0]!.id;

      // The console's form: in the run's tree on the server itself, on the
      // Inquiries screen through the StackStorm-shaped front.
      let form: Locator;
      if (via === 'stormdesk') {
        await asking.click();
        form = execution.locator('form.inquiry-form');
      } else {
        await page.locator('.tab[data-view="inquiries"]').click();
        const card = page.getByRole('region', { name: 'Inquiries' }).locator(`.inquiry-card[data-inquiry="${inquiryId}"]`);
        await expect(card.locator('.inquiry-source')).toHaveText('approve');
        form = card.locator('form.inquiry-form');
      }
      await expect(form.locator('.inquiry-prompt').first()).toHaveText('Release the build?');
      await form.locator('[data-field="approved"] input').check();
      await form.locator('[data-field="replicas"] input').fill('4');
      await form.locator('[data-field="environment"] select').selectOption('production');
      await form.locator('[data-field="ticket"] input').fill('OPS-42');
      await form.getByRole('button', { name: 'Answer' }).click();
      await expect(count).toBeHidden();

      // It completed there, run and answered by alice, the answer in its result.
      expect((await completedOn(remote, runId)).status).toBe('succeeded');
      const result = await remote.api<{ output: { answer: Record<string, unknown> } }>('GET', `/v1/executions/${runId}/result`);
      expect(result.output.answer).toEqual({ approved: true, replicas: 4, environment: 'production', ticket: 'OPS-42' });
      const run = await remote.api<{ context: { user: string } }>('GET', `/v1/executions/${runId}`);
      expect(run.context.user).toBe('alice');
      // And the console shows it done.
      if (via === 'stackstorm') await page.goBack();
      await expect(status).toHaveAttribute('data-status', 'succeeded', { timeout: 30_000 });
      await expect(tree.locator('.tree-row[data-path="release"]')).toHaveAttribute('data-status', 'succeeded');

      // StackStorm's inquiry routes, as its API declares them.
      const inquiryUrl = `${origin}${st2 ? '/api' : ''}/v1/inquiries/${inquiryId}`;
      expect(recorded.some((r) => r.method === 'PUT' && r.url === inquiryUrl)).toBe(true);
      expect(recorded.some((r) => r.method === 'GET' && r.url.startsWith(`${origin}${st2 ? '/api' : ''}/v1/inquiries`))).toBe(true);
      checkContract(recorded, via === 'stackstorm');
      expect(failed).toEqual([]);
    } finally {
      await st2?.close();
      await cleanUp(remote);
    }
  });
}

test('every screen against a StackStorm-shaped server: what it lacks is hidden, nothing outside its API is asked', async ({ consolePage: page, server }) => {
  test.setTimeout(240_000);
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  const extra = join(home, 'extra-packs');
  mkdirSync(extra);
  const gitpack = makeGitPack(extra);
  addUser(home, 'alice', 'alice-pw');
  const remote = await startRemote(home, server.url, '127.0.0.1:0', [gitpack]);
  const st2 = await stackstormShaped(remote);
  const recorded = recordRequests(page, st2.url);
  const failed = recordFailures(page, st2.url);
  const screens = page.getByRole('navigation', { name: 'Screens' });
  const execution = page.getByRole('region', { name: 'Execution' });
  const badge = execution.locator('.execution-header .badge');
  try {
    await addConnection(page, 'st2', `${st2.url}/api/v1`);
    await signIn(page, 'alice', 'alice-pw');

    // Actions and the run form: no revision picker (a git pack's revisions are Stormdesk's).
    await expect(page.locator('.action-item[data-ref="e2e.numbered"]')).toBeVisible();
    await noErrors(page);
    await openAction(page, 'gitpack.greet');
    await expect(page.locator('#param-name')).toBeVisible();
    await expect(page.locator('#revision')).toHaveCount(0);
    await noErrors(page);

    // A run, its output (StackStorm's text) and result; re-run, edited.
    await openAction(page, 'e2e.numbered');
    await page.locator('#param-lines').fill('3');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(badge).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    await expect(execution.getByLabel('Output log')).toContainText('line 3');
    await tab(page, 'Result').click();
    await expect(execution.locator('pre[data-part="stdout"]')).toContainText('line 3');
    const firstId = await execution.locator('.execution-id').textContent();
    await execution.getByRole('button', { name: 'Re-run' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Re-run e2e.numbered' })).toBeVisible();
    await expect(page.locator('#param-lines')).toHaveValue('3');
    await page.locator('#param-lines').fill('4');
    await page.getByRole('form', { name: 'Parameters of e2e.numbered' }).getByRole('button', { name: 'Re-run' }).click();
    await expect(execution.locator('.execution-id')).not.toHaveText(firstId ?? '');
    await expect(badge).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    await noErrors(page);

    // Cancel.
    await openAction(page, 'e2e.numbered');
    await page.locator('#param-lines').fill('300');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(execution.getByLabel('Output log')).toContainText('line 2');
    await execution.getByRole('button', { name: 'Cancel' }).click();
    await expect(badge).toHaveAttribute('data-status', 'canceled', { timeout: 30_000 });
    await noErrors(page);

    // A nested workflow: its live tree (tasks not reached yet are not drawn:
    // the workflow graph is Stormdesk's), pause and resume.
    await openAction(page, 'e2e.deploy');
    await page.locator('#param-delay').fill('1.5');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const tree = execution.getByRole('tree', { name: 'Workflow tree' });
    await expect(tree).toBeVisible();
    await expect(badge).toHaveAttribute('data-status', 'running');
    await execution.getByRole('button', { name: 'Pause' }).click();
    await expect(badge).toHaveAttribute('data-status', 'paused', { timeout: 30_000 });
    await execution.getByRole('button', { name: 'Resume' }).click();
    await expect(badge).toHaveAttribute('data-status', 'succeeded', { timeout: 90_000 });
    await expect(tree.locator('.tree-row.not-reached')).toHaveCount(0);
    await expect(tree.locator('.tree-row[data-path="verify"]')).toHaveAttribute('data-status', 'succeeded');
    for (const i of [0, 1, 2]) await expect(tree.locator(`.tree-row[data-path="hosts[${i}]"]`)).toHaveAttribute('data-status', 'succeeded');
    await tree.locator('.tree-row').first().click();
    await tab(page, 'Result').click();
    await expect(execution.locator('pre[data-part="output"]')).toContainText('alpha');
    await noErrors(page);

    // History: StackStorm's filters (status, action, dates, top level only);
    // the text, pack and revision filters are Stormdesk's and not offered.
    await screens.getByRole('link', { name: 'History' }).click();
    const history = page.getByRole('region', { name: 'History' });
    const rows = history.locator('tr.execution-row');
    await expect(rows).toHaveCount(4);
    await expect(history.locator('#history-q')).toHaveCount(0);
    await expect(history.locator('#history-pack')).toHaveCount(0);
    await expect(history.locator('#history-revision')).toHaveCount(0);
    await expect(history.locator('th', { hasText: 'revision' })).toHaveCount(0);
    await history.locator('#history-status').selectOption('canceled');
    await expect(rows).toHaveCount(1);
    await history.locator('#history-status').selectOption('');
    await history.locator('#history-action').fill('e2e.numbered');
    await expect(rows).toHaveCount(3);
    await history.locator('#history-action').fill('');
    await expect(rows).toHaveCount(4);
    // Tasks too: the deploy's and its subworkflows'.
    await history.getByText('include workflow tasks').click();
    await expect.poll(() => rows.count()).toBeGreaterThan(4);
    await history.getByText('include workflow tasks').click();
    await expect(rows).toHaveCount(4);
    // Dates: everything so far started before tomorrow, nothing after it.
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}T00:00`;
    await history.locator('#history-until').fill(local);
    await expect(rows).toHaveCount(4);
    await history.locator('#history-until').fill('');
    await history.locator('#history-since').fill(local);
    await expect(rows).toHaveCount(0);
    await history.locator('#history-since').fill('');
    await expect(rows).toHaveCount(4);
    // A workflow's row opens onto its tasks.
    const deploy = rows.filter({ has: page.locator('a.history-action', { hasText: 'e2e.deploy' }) });
    await deploy.getByRole('button', { name: 'Expand e2e.deploy' }).click();
    await expect(history.locator('tr.child-row.execution-row').first()).toBeVisible();
    await noErrors(page);
    await docShot(page, 'remote-stackstorm-history.png');

    // Packs: StackStorm's install (`POST /v1/packs/install`); Update is Stormdesk's and not offered.
    await screens.getByRole('link', { name: 'Packs' }).click();
    const packs = page.getByRole('region', { name: 'Packs' });
    await expect(packs.locator('.pack-card[data-pack="gitpack"]')).toBeVisible();
    await expect(packs.locator('.pack-card[data-pack="e2e"]')).toBeVisible();
    await expect(packs.getByRole('button', { name: 'Update' })).toHaveCount(0);
    await noErrors(page);
    const src = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-src-'));
    const dir = join(src, 'tinypack');
    mkdirSync(join(dir, 'actions'), { recursive: true });
    writeFileSync(join(dir, 'pack.yaml'), 'ref: tinypack\nname: tinypack\nversion: 1.0.0\ndescription: Installed through StackStorm\'s API.\n');
    writeFileSync(join(dir, 'actions/hi.yaml'), "name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    immutable: true\n    default: 'echo hi'\n");
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    execFileSync('git', ['add', '-A'], { cwd: dir });
    execFileSync('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.invalid', 'commit', '-q', '-m', 'first'], { cwd: dir });
    await page.getByLabel('Git URL or path').fill(dir);
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    const job = page.getByRole('region', { name: 'Pack job' });
    await expect(job.locator('.badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 120_000 });
    await expect(job.getByLabel('Output log')).toContainText(`installing ${dir}`);
    await expect(packs.locator('.pack-card[data-pack="tinypack"]')).toBeVisible();
    await screens.getByRole('link', { name: 'Actions' }).click();
    await expect(page.locator('.action-item[data-ref="tinypack.hi"]')).toBeVisible();
    rmSync(src, { recursive: true, force: true });
    await noErrors(page);

    // Announcements are Stormdesk's stream event: no button for them.
    await expect(page.getByRole('button', { name: 'Announcements' })).toHaveCount(0);

    // Inquiries: nothing waits (one answered through this front: above).
    await page.locator('.tab[data-view="inquiries"]').click();
    await expect(page.getByRole('region', { name: 'Inquiries' }).getByText('Nothing is waiting for a response.')).toBeVisible();
    await noErrors(page);

    // Nothing asked was outside StackStorm's API, and nothing was refused.
    checkContract(recorded, true);
    expect(failed).toEqual([]);
  } finally {
    await st2.close();
    await cleanUp(remote);
  }
});
