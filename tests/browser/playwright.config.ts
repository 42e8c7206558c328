// Browser end-to-end tests: Playwright drives Debian's Chromium (never a
// browser Playwright downloads) against a real `stormdesk serve` started by
// the fixtures in server.ts, with real packs and real executions.
import { defineConfig } from '@playwright/test';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts/,
  // Screenshots are regenerated on demand (`npm run screenshots`), not in the suite.
  testIgnore: process.env.STORMDESK_SCREENSHOTS ? [] : [/screenshots\.spec\.ts/],
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: '../../target/e2e/browser-results',
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 860 },
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
