// The Packs screen: every pack with its source and revision, what did not
// load and why, what it hides; install from a path or URL and update from
// origin, with the progress shown live.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, test } from './server';

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, {
    cwd,
    stdio: 'ignore',
    env: { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid' },
  });
}

test('every pack with its source, revision, load errors, unsupported and ignored content, shadowing', async ({ consolePage: page, server }) => {
  // The sidebar marks a pack with problems and links to it.
  await page.locator('.pack[data-pack="e2e"] .pack-problems').click();
  await expect(page).toHaveURL(/#\/packs\/e2e$/);
  const e2e = page.locator('.pack-card[data-pack="e2e"]');
  await expect(e2e).toHaveClass(/focused/);
  await expect(e2e.locator('.pack-problems-list.bad li')).toHaveText([/bad_meta\.yaml:\d+:\d+: /]);
  await expect(e2e.locator('.pack-problems-list.warn li')).toHaveText([/^on_mistral: .*mistral-v2/]);
  await expect(e2e.locator('.pack-problems-list.muted li')).toContainText([/rules/]);
  await expect(e2e.locator('.pack-source')).toContainText('directory');

  // The repository's examples pack takes the place of the bundled one.
  const examples = page.locator('.pack-card[data-pack="examples"]');
  await expect(examples.locator('.shadows')).toContainText(join(server.home, 'bundled'));

  // A git pack: where it comes from and what is checked out.
  const gitpack = page.locator('.pack-card[data-pack="gitpack"]');
  await expect(gitpack.locator('.pack-source')).toContainText(/git \(no origin\) at [0-9a-f]{12} \(main\)/);
  await expect(gitpack.getByRole('button', { name: 'Update' })).toHaveCount(0);
});

test('installs a pack from a path and updates it, the progress shown live', async ({ consolePage: page }) => {
  const src = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-src-'));
  const dir = join(src, 'tinypack');
  mkdirSync(join(dir, 'actions'), { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), 'ref: tinypack\nname: tinypack\nversion: 1.0.0\ndescription: Installed from the Packs screen.\n');
  writeFileSync(join(dir, 'actions/hi.yaml'), "name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    immutable: true\n    default: 'echo hi'\n");
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'first');

  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Packs' }).click();
  await page.getByLabel('Git URL or path').fill(dir);
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  const job = page.getByRole('region', { name: 'Pack job' });
  await expect(job.getByRole('heading')).toHaveText(`Installing ${dir}`);
  await expect(job.locator('.badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 120_000 });
  const log = job.getByLabel('Output log');
  await expect(log).toContainText(`installing ${dir}`);
  await expect(log).toContainText(/pack tinypack at [0-9a-f]{12} \(main\): 1 action\(s\) can run/);
  // Loaded: on this screen and in the catalogue.
  const card = page.locator('.pack-card[data-pack="tinypack"]');
  await expect(card.locator('.origin')).toHaveText(dir);
  const before = await card.locator('.pack-source .commit').textContent();
  // The catalogue is the Actions screen's (Packs takes the whole width).
  const screens = page.getByRole('navigation', { name: 'Screens' });
  await screens.getByRole('link', { name: 'Actions' }).click();
  await expect(page.locator('.action-item[data-ref="tinypack.hi"]')).toBeVisible();
  // Its revisions, as the run form offers them (asked for once, then kept a while).
  await page.locator('.action-item[data-ref="tinypack.hi"]').click();
  await expect(page.locator('#revision option')).not.toHaveCount(0);
  await expect(page.locator('#revision option', { hasText: 'v1.1.0' })).toHaveCount(0);
  await screens.getByRole('link', { name: 'Packs' }).click();

  // A new tagged commit upstream; Update fetches and fast-forwards it.
  writeFileSync(join(dir, 'pack.yaml'), 'ref: tinypack\nname: tinypack\nversion: 1.1.0\ndescription: Updated.\n');
  git(dir, 'commit', '-q', '-am', 'second');
  git(dir, 'tag', 'v1.1.0');
  await card.getByRole('button', { name: 'Update' }).click();
  await expect(job.getByRole('heading')).toHaveText('Updating tinypack');
  await expect(job.locator('.badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 120_000 });
  await expect(log).toContainText(/tinypack: [0-9a-f]{12} -> [0-9a-f]{12}/);
  await expect(card.locator('h2')).toContainText('1.1.0');
  await expect(card.locator('.pack-source .commit')).not.toHaveText(before ?? '');
  // The run form offers the new tag at once.
  await screens.getByRole('link', { name: 'Actions' }).click();
  await page.locator('.action-item[data-ref="tinypack.hi"]').click();
  await expect(page.locator('#revision option', { hasText: 'v1.1.0' })).toHaveCount(1);
  await screens.getByRole('link', { name: 'Packs' }).click();

  // A source that is not a pack: the job fails and says why.
  await page.getByLabel('Git URL or path').fill(join(src, 'nothing-here'));
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  await expect(job.locator('.badge')).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  await expect(job.locator('.error')).toContainText('there is no such path on this machine');
});
