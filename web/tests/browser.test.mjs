// The web client in a real Chromium (Debian's, headless, driven by playwright-core), against the
// local API, its mail and the web server that `make test` starts (dev/run-tests.sh sets the
// variables below). Every page and flow, the refresh cookie's flags from the browser's own jar,
// no token in web storage, a page of another origin refused, the CSP blocking an injected inline
// script, and axe-core on every page. Screenshots of the main pages go to docs/screenshots/.
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const WEB = required('WEB_URL'); // http://localhost:<port>
const API = required('WEB_API_URL'); // the API as the page reaches it: http://localhost:<port>
const MAIL = required('MAIL_URL'); // the local SES' record of sent mail
const OTHER = required('OTHER_ORIGIN_URL'); // the same app served from an origin the API does not allow
const SCREENSHOTS = process.env.SCREENSHOTS_DIR;
const PASSWORD = 'correct horse battery staple';
const require = createRequire(import.meta.url);
const AXE = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is set by make test (dev/run-tests.sh)`);
  return value;
}

/** @type {import('playwright-core').Browser} */
let browser;
const timings = {};

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
});
after(async () => {
  await browser?.close();
  console.log(`browser timings: ${JSON.stringify(timings)}`);
});

/** A unique address for one test. @param {string} tag */
function address(tag) {
  return `${tag}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@example.com`;
}

/** The newest message to `to` whose body holds `page`'s link, waiting for the mailer.
 * @param {string} to @param {string} page */
async function mailedLink(to, page) {
  const pattern = new RegExp(`${WEB.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${page}#token=[\\w-]+`);
  for (let attempt = 0; attempt < 120; attempt++) {
    const sent = await (await fetch(MAIL)).json();
    const message = sent.filter((m) => m.to.includes(to) && pattern.test(m.body)).at(-1);
    if (message) return message.body.match(pattern)[0];
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no ${page} link was mailed to ${to}`);
}

/** A new page in `context` that fails the test on any page error. @param {import('playwright-core').BrowserContext} context */
async function open(context) {
  const page = await context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  return page;
}

/** Loads `path` and waits for the app to have started. @param {import('playwright-core').Page} page @param {string} path */
async function visit(page, path) {
  await page.goto(WEB + path);
  await page.waitForSelector('html[data-ready="true"]');
}

/** The page's h1 once it reads `text`. @param {import('playwright-core').Page} page @param {string | RegExp} text */
async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

/** No serious or critical axe-core violation on the page as it is. @param {import('playwright-core').Page} page @param {string} name */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    // @ts-ignore axe is what the line above defined
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  assert.deepEqual(violations, [], `axe on ${name}`);
}

/** @param {import('playwright-core').Page} page @param {string} name */
async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, mask: [page.locator('[data-private]')] });
}

/** Fills the form fields by label and submits with the button named `submit`.
 * @param {import('playwright-core').Page} page @param {Record<string, string>} fields @param {string} submit */
async function submit(page, fields, submit) {
  for (const [label, value] of Object.entries(fields)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await page.getByRole('button', { name: submit, exact: true }).click();
}

/** @param {import('playwright-core').Page} page */
async function statusText(page) {
  return (await page.locator('#status').textContent()) ?? '';
}

test('the sign-in page loads light and fast', async () => {
  // Once to start the functions (the emulator starts a function at its first call), then measured.
  const warm = await browser.newContext();
  await visit(await open(warm), '/sign-in');
  await warm.close();
  const context = await browser.newContext();
  const page = await open(context);
  let bytes = 0;
  page.on('response', async (response) => {
    const body = await response.body().catch(() => Buffer.alloc(0));
    bytes += body.length;
  });
  const started = Date.now();
  await visit(page, '/sign-in');
  await heading(page, 'Sign in');
  timings.signInInteractiveMs = Date.now() - started;
  timings.signInBytes = bytes;
  timings.signInDomInteractiveMs = await page.evaluate(
    () => Math.round(/** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]).domInteractive),
  );
  await accessible(page, 'sign in');
  await screenshot(page, 'sign-in');
  await context.close();
});

test('every page and flow, from sign-up to a deleted account', async () => {
  const started = Date.now();
  const email = address('web');
  const context = await browser.newContext();
  const page = await open(context);

  // Sign up.
  await visit(page, '/sign-up');
  await accessible(page, 'sign up');
  await submit(page, { 'Name (optional)': 'Ada', Email: email, Password: PASSWORD }, 'Create account');
  await heading(page, 'Hello, Ada');
  await accessible(page, 'home');

  // The refresh token is in an HttpOnly, SameSite=Strict cookie for the API, and in no storage.
  const cookies = await context.cookies(API);
  const refresh = cookies.find((c) => c.name === 'refresh_token');
  assert.ok(refresh, JSON.stringify(cookies));
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(refresh.path, '/');
  assert.equal(refresh.secure, false, 'an http origin: not Secure (https origins get Secure and __Host-)');
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  assert.equal(stored, '[{},{}]');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no script can read the cookie');

  // Verify the address from the local mail.
  await page.goto(await mailedLink(email, 'verify'));
  await heading(page, 'Hello, Ada');
  assert.match(await statusText(page), /confirmed/);
  assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar');

  // Sign out, sign in.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Welcome');
  assert.equal((await context.cookies(API)).find((c) => c.name === 'refresh_token'), undefined, 'cleared');
  await page.getByRole('link', { name: 'Sign in', exact: true }).first().click();
  await submit(page, { Email: email, Password: 'wrong horse battery staple' }, 'Sign in');
  await page.getByText('The email or password is incorrect.').waitFor();
  const refreshes = [];
  context.on('request', (r) => r.url().endsWith('/refresh') && refreshes.push(r.url()));
  await submit(page, { Email: email, Password: PASSWORD }, 'Sign in');
  await heading(page, 'Hello, Ada');
  const signedInAt = Date.now();

  // Edit the name; a second tab changes it meanwhile, and the first is told (ETag).
  await page.getByRole('link', { name: 'Profile' }).click();
  await heading(page, 'Profile');
  await accessible(page, 'profile');
  const tab = await open(context);
  await visit(tab, '/profile');
  await heading(tab, 'Profile');
  await tab.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await tab.getByRole('button', { name: 'Save name' }).click();
  await tab.getByText('Your name was saved.').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Countess');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByText(/changed somewhere else/).waitFor();
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Ada Lovelace', 'the latest version');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByText('Your name was saved.').waitFor();
  await screenshot(page, 'profile');

  // Change the email: pending until the link mailed to the new address is opened.
  const moved = address('web-moved');
  await submit(page, { 'New email': moved, 'Current password': PASSWORD }, 'Change email');
  await page.locator('#pending').getByText(moved).waitFor();
  await page.goto(await mailedLink(moved, 'confirm-email'));
  await heading(page, /Hello/);
  assert.match(await statusText(page), /new email address is confirmed/);
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByText(`Email: ${moved}`).waitFor();
  assert.equal(await page.locator('#pending').count(), 0);

  // The access token of that sign-in expires (the shortest lifetime the API accepts, 60 s, in this run): the app
  // has refreshed before, with the cookie, one tab at a time, and both tabs carry on signed in.
  const ttl = Number(process.env.WEB_ACCESS_TOKEN_TTL_SECONDS || 0);
  if (ttl) {
    await page.waitForTimeout(Math.max(0, signedInAt + (ttl + 1) * 1000 - Date.now()));
    await page.getByRole('link', { name: 'Sessions' }).click();
    await heading(page, 'Sessions');
    await tab.getByRole('link', { name: 'Profile' }).click();
    await heading(tab, 'Profile');
    assert.ok(refreshes.length >= 1, 'refreshed after expiry');
  }
  await tab.close();

  // Sessions: another device signs in; ending its session signs it out there.
  const device = await browser.newContext();
  const other = await open(device);
  await visit(other, '/sign-in');
  await submit(other, { Email: moved, Password: PASSWORD }, 'Sign in');
  await heading(other, /Hello/);
  await page.reload();
  await page.waitForSelector('html[data-ready="true"]');
  await heading(page, 'Sessions');
  await accessible(page, 'sessions');
  await screenshot(page, 'sessions');
  const ends = page.getByRole('button', { name: /^End the session/ });
  assert.equal(await ends.count(), 2);
  await page.getByRole('button', { name: /^End the session of (?!.*this device)/ }).click();
  await page.getByText('That session has ended.').waitFor();
  await other.getByRole('link', { name: 'Profile' }).click();
  await heading(other, 'Sign in');
  assert.match(await statusText(other), /session has ended/);
  await device.close();

  // Change the password.
  await page.getByRole('link', { name: 'Password' }).click();
  await heading(page, 'Change password');
  await accessible(page, 'password');
  const changed = 'a brand new passphrase';
  await submit(page, { 'Current password': PASSWORD, 'New password': changed }, 'Change password');
  await page.getByText(/Your password was changed/).waitFor();

  // Forgot it anyway: reset from the mailed link, which signs every session out.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Welcome');
  await visit(page, '/forgot');
  await accessible(page, 'forgot');
  await submit(page, { Email: moved }, 'Send reset link');
  await heading(page, 'Choose a new password');
  const reset = 'reset via the mailed link';
  await page.goto(await mailedLink(moved, 'reset'));
  await heading(page, 'Choose a new password');
  await accessible(page, 'reset');
  await submit(page, { 'New password': reset }, 'Set password');
  await heading(page, 'Sign in');
  await submit(page, { Email: moved, Password: reset }, 'Sign in');
  await heading(page, /Hello/);

  // Delete the account.
  await page.getByRole('link', { name: 'Delete account' }).click();
  await heading(page, 'Delete account');
  await accessible(page, 'delete');
  await submit(page, { 'Current password': reset }, 'Delete my account');
  await heading(page, 'Welcome');
  assert.match(await statusText(page), /deleted/);
  assert.equal((await context.cookies(API)).find((c) => c.name === 'refresh_token'), undefined);
  await context.close();
  timings.flowMs = Date.now() - started;
});

test('a page of another origin cannot refresh or read the API', async () => {
  const email = address('web-origin');
  const context = await browser.newContext();
  const page = await open(context);
  await visit(page, '/sign-up');
  await submit(page, { Email: email, Password: PASSWORD }, 'Create account');
  await heading(page, /Hello/);

  // The same app from an origin the API does not allow: its fetches fail (no CORS grant).
  const foreign = await context.newPage();
  await foreign.goto(OTHER + '/sign-in');
  const outcome = await foreign.evaluate(async (api) => {
    const results = [];
    for (const path of ['/refresh', '/profile']) {
      try {
        const response = await fetch(api + path, {
          method: path === '/refresh' ? 'POST' : 'GET',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json' },
          body: path === '/refresh' ? '{}' : undefined,
        });
        results.push(`read ${response.status}`);
      } catch (error) {
        results.push(`refused: ${error}`);
      }
    }
    return results;
  }, API);
  assert.deepEqual(outcome.map((o) => o.split(':')[0]), ['refused', 'refused'], outcome.join('; '));
  // The session is untouched: the app still refreshes into it.
  await page.reload();
  await heading(page, /Hello/);
  await context.close();
});

test('the Content-Security-Policy blocks an injected inline script', async () => {
  const context = await browser.newContext();
  const page = await open(context);
  await visit(page, '/sign-in');
  const violation = page.evaluate(
    () => new Promise((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true })),
  );
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true';
    document.body.append(script);
    // @ts-ignore set only if the script ran
    return window.injected === true;
  });
  assert.equal(ran, false);
  assert.match(String(await violation), /script-src/);
  const csp = (await page.request.get(WEB + '/')).headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await context.close();
});
