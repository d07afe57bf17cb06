// The admin console in a real browser: Debian's Chromium driven by playwright-core, with a
// CDP virtual authenticator standing in for the platform passkey, against a real ward-server;
// the clinician's phone is the `ward` CLI (software passkey, encrypted vault).
//
// `cargo xtask browser-test` starts the server and sets WARD_URL, WARD_TENANT,
// WARD_SETUP_CODE, WARD_CLI, WARD_ARTIFACTS (screenshots go there) and WARD_CHROMIUM. The steps
// run in order; a step whose prerequisite failed is skipped (and reported as such) instead of
// failing for someone else's reason.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through cargo xtask browser-test)`);
  return v;
};

const URL = env('WARD_URL');
const TENANT = env('WARD_TENANT');
const SETUP_CODE = env('WARD_SETUP_CODE');
const CLI = env('WARD_CLI');
const ARTIFACTS = env('WARD_ARTIFACTS');
const CHROMIUM = process.env.WARD_CHROMIUM || '/usr/bin/chromium';

const CLINICIAN = 'Casey Clinician';
const PHONE = "Casey's phone";
const PHONE_LABEL = `${PHONE} (${CLINICIAN})`;
const CLIENT = 'Jane Doe';
const SYNCED_NOTE = 'Home visit: mood stable';
const RESCUED_NOTE = 'Late visit, written offline: knee swelling down';

const run = promisify(execFile);
let profile;
let deviceDir;
let context;
let page;
let shot = 0;
const passed = new Set();

/** `ward --dir <phone> args…`; returns stdout (trimmed). */
async function ward(...args) {
  const { stdout } = await run(CLI, ['--dir', deviceDir, ...args], { timeout: 60_000 });
  return stdout.trim();
}

async function screenshot(name) {
  shot += 1;
  const path = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A step of the flow: skipped when a step it needs did not pass. */
function step(name, needs, fn) {
  test(name, async (t) => {
    const missing = needs.filter((n) => !passed.has(n));
    if (missing.length) {
      t.skip(`needs: ${missing.join(', ')}`);
      return;
    }
    try {
      await fn(t);
      passed.add(name);
    } catch (e) {
      if (page) await screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
      throw e;
    }
  });
}

const errorText = () => page.locator('#error').textContent();

/** Waits for the status region to say something matching `re` (or fails with the error). */
async function expectStatus(re, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const status = (await page.locator('#status').textContent()) || '';
    if (re.test(status)) return status;
    const err = (await errorText()) || '';
    if (err) throw new Error(`the console showed an error: ${err}`);
    if (Date.now() > deadline) throw new Error(`status never matched ${re}; it says: "${status}"`);
    await page.waitForTimeout(100);
  }
}

/** Every form control on the page has a label, every button a name. */
async function checkLabels() {
  const unlabelled = await page.evaluate(() => {
    const bad = [];
    for (const c of document.querySelectorAll('input, select, textarea')) {
      if (!(c.labels && c.labels.length) && !c.getAttribute('aria-label')) bad.push(c.outerHTML);
    }
    for (const b of document.querySelectorAll('button')) {
      if (!(b.getAttribute('aria-label') || b.textContent.trim())) bad.push(b.outerHTML);
    }
    return bad;
  });
  assert.deepEqual(unlabelled, [], 'unlabelled controls');
}

async function section(name) {
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('button', { name }).click();
  await page.locator('#section-body').getByText('Loading…').waitFor({ state: 'detached' });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'ward-chromium-'));
  deviceDir = mkdtempSync(join(tmpdir(), 'ward-phone-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] || (await context.newPage());
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  console.log(`screenshots: ${ARTIFACTS}`);
});

after(async () => {
  if (context) await context.close();
  for (const d of [profile, deviceDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const ENROLL = 'first admin redeems the setup code and registers a passkey';
const LOGIN = 'admin signs out and back in with the passkey';
const INVITE = 'admin invites a clinician (keyboard only)';
const PHONE_ENROLLED = 'clinician enrolls a phone with the ward CLI';
const APPROVE = "admin approves the clinician's phone";
const NAMES = 'client names are decrypted in the browser';
const REVOKE = 'admin revokes and wipes the phone with a passkey step-up';
const RECEIPT = 'the phone wipes itself and the console shows the wipe receipt';
const QUARANTINE = 'the console shows the quarantined notes';
const BREACH = 'the breach-scope report names the clients that were on the phone';
const AUDIT = 'the audit log lists the revocation';
const POLICY = 'admin changes a policy with a passkey step-up';

step('a wrong setup code is refused with the server\'s message', [], async () => {
  await page.goto(`${URL}/console#tenant=${TENANT}`);
  await page.getByLabel('Clinic id (tenant)').waitFor();
  assert.equal(await page.getByLabel('Clinic id (tenant)').inputValue(), TENANT);
  await checkLabels();
  await page.getByLabel('Invite or setup code').fill('not-the-code');
  await page.getByLabel('Your name').fill('Ada Admin');
  await page.getByRole('button', { name: 'Create passkey and enroll this browser' }).click();
  await page.getByRole('alert').filter({ hasText: /invite/i }).waitFor({ timeout: 20_000 });
  const err = await errorText();
  assert.match(err, /invite unknown, already used or expired|invite does not match/);
  await screenshot('wrong-setup-code');
});

step(ENROLL, [], async () => {
  await page.goto(`${URL}/console#tenant=${TENANT}`);
  await page.getByLabel('Invite or setup code').fill(SETUP_CODE);
  await page.getByLabel('Your name').fill('Ada Admin');
  await page.getByLabel('Name for this browser').fill('Front office PC');
  await page.getByRole('button', { name: 'Create passkey and enroll this browser' }).click();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ timeout: 20_000 });
  await expectStatus(/enrolled/);
  await page.getByRole('table', { name: 'Devices of this clinic' }).waitFor();
  await checkLabels();
  await screenshot('enrolled');
});

step(LOGIN, [ENROLL], async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in with passkey' }).click();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ timeout: 20_000 });
  await expectStatus(/Signed in/);
});

let inviteCode;
step(INVITE, [ENROLL], async () => {
  await section('Staff and invites');
  await page.getByLabel('Name', { exact: true }).focus();
  await page.keyboard.type(CLINICIAN);
  await page.keyboard.press('Tab'); // role: clinician is the default
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  const code = page.locator('#invite-code code');
  await code.waitFor({ timeout: 20_000 });
  inviteCode = (await code.textContent()).trim();
  assert.ok(inviteCode.length >= 8, inviteCode);
  await checkLabels();
  await screenshot('invite');
});

step(PHONE_ENROLLED, [INVITE], async () => {
  const out = await ward(
    'enroll', '--server', URL, '--tenant', TENANT, '--invite', inviteCode,
    '--name', CLINICIAN, '--device-name', PHONE,
  );
  assert.match(out, /pending/);
});

step(APPROVE, [PHONE_ENROLLED], async () => {
  await section('Devices');
  await page.getByRole('button', { name: `Approve ${PHONE_LABEL}` }).click();
  await expectStatus(/Approved/);
  const row = page.getByRole('row').filter({ hasText: PHONE });
  await row.getByText('active').waitFor();
  await screenshot('approved');
  assert.match(await ward('refresh'), /active/);
  const client = await ward('client', 'add', CLIENT);
  await ward('note', 'add', client, SYNCED_NOTE);
  await ward('sync');
  // Written after the last sync: only the rescue before the wipe can save it.
  await ward('note', 'add', client, RESCUED_NOTE);
});

step(NAMES, [APPROVE], async () => {
  await page.getByRole('button', { name: 'Decrypt client names' }).click();
  await expectStatus(/1 client name\(s\) decrypted in this browser/);
});

step(REVOKE, [APPROVE], async () => {
  await section('Devices');
  await page.getByRole('button', { name: `Revoke and wipe ${PHONE_LABEL}` }).click();
  const dialog = page.getByRole('dialog', { name: `Revoke and wipe ${PHONE_LABEL}?` });
  await dialog.waitFor();
  await screenshot('revoke-confirm');
  await dialog.getByRole('button', { name: 'Revoke and wipe' }).click();
  await expectStatus(/Revoked .*wipe queued/);
  await page.getByRole('row').filter({ hasText: PHONE }).getByText('revoked').waitFor();
  await screenshot('revoked');
});

step(RECEIPT, [REVOKE], async () => {
  // The phone's next contact: it learns of the wipe, rescues its unsynced note, wipes, and
  // sends a signed receipt. The CLI may exit non-zero (its vault is gone); the console is the
  // judge of what happened.
  try {
    await ward('sync');
  } catch (e) {
    console.log(`ward sync after revocation: ${(e.stderr || e.message).trim()}`);
  }
  await section('Devices');
  const row = page.getByRole('row').filter({ hasText: PHONE });
  await row.getByText(/Wiped .*rescued to quarantine/).waitFor({ timeout: 10_000 });
  await row.getByText('wiped', { exact: true }).waitFor();
  await screenshot('wipe-receipt');
});

step(QUARANTINE, [RECEIPT], async () => {
  await section('Quarantine');
  const tableEl = page.getByRole('table', { name: 'Quarantined records' });
  await tableEl.waitFor();
  const row = tableEl.getByRole('row').filter({ hasText: RESCUED_NOTE });
  await row.getByText(CLIENT).waitFor();
  await screenshot('quarantine');
  await row.getByRole('button', { name: /^Accept note/ }).click();
  await expectStatus(/Accepted/);
  await tableEl.getByRole('row').filter({ hasText: RESCUED_NOTE }).getByText('accepted').first().waitFor();
  await checkLabels();
});

step(BREACH, [REVOKE], async () => {
  await section('Breach scope');
  await page.getByLabel('Device').selectOption({ index: await phoneIndex() });
  await page.getByRole('button', { name: 'Open report' }).click();
  await expectStatus(/Breach-scope report/);
  await page.locator('#breach-results').getByText(CLIENT).first().waitFor();
  await checkLabels();
  await screenshot('breach-scope');
});

async function phoneIndex() {
  return page.getByLabel('Device').evaluate(
    (s, phone) => [...s.options].findIndex((o) => o.textContent.startsWith(phone)),
    PHONE,
  );
}

step(AUDIT, [REVOKE], async () => {
  await section('Audit log');
  await page.getByLabel('Action').fill('device.revoke');
  await page.getByRole('button', { name: 'Show events' }).click();
  await expectStatus(/[1-9]\d* audit event\(s\)/);
  await page.locator('#audit-results').getByText('device.revoke').first().waitFor();
  await checkLabels();
  await screenshot('audit');
});

step(POLICY, [ENROLL], async () => {
  await section('Policies');
  const idle = page.getByLabel('Idle lock after (seconds)');
  await idle.fill('600');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expectStatus(/Policies saved/);
  await section('Devices');
  await section('Policies');
  assert.equal(await page.getByLabel('Idle lock after (seconds)').inputValue(), '600');
  await checkLabels();
  await screenshot('policies');
});
