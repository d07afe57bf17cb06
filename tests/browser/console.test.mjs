// The admin console in a real browser: Debian's Chromium driven by playwright-core, with a
// CDP virtual authenticator standing in for the platform passkey, against a real ward-server;
// the clinicians' phones are the `ward` CLI (software passkey, encrypted vault), and the
// clinician's second device (a laptop) is a second Chromium with a virtual authenticator of
// its own, enrolled through the console with a new-device code.
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
const ADMIN = 'First admin'; // the setup code's invite names the first admin
const LAPTOP = "Casey's laptop";
const DANA = 'Dana Doctor';
const DANA_PHONE = "Dana's phone";
const ROBIN = 'Robin Reception';
const ROBIN_PHONE = "Robin's phone";
const GLASS_REASON = 'Weekend cover: patient called about chest pain';

const run = promisify(execFile);
let profile;
let deviceDir;
let context;
let page;
let shot = 0;
const passed = new Set();
const phoneDirs = [];
let clientId; // Jane Doe's client id
let laptop; // the clinician's second device: {browser, page}
let laptopLastRequest = 0; // when the laptop last called the server

/** `ward --dir <phone> args…`; returns stdout (trimmed). */
async function ward(...args) {
  return wardIn(deviceDir, ...args);
}

/** `ward --dir <dir> args…`; returns stdout (trimmed). */
async function wardIn(dir, ...args) {
  const { stdout } = await run(CLI, ['--dir', dir, ...args], { timeout: 60_000 });
  return stdout.trim();
}

/** A fresh folder for another CLI phone. */
function phoneDir() {
  const d = mkdtempSync(join(tmpdir(), 'ward-phone-'));
  phoneDirs.push(d);
  return d;
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

const errorText = (p = page) => p.locator('#error').textContent();

/** Waits for the status region to say something matching `re` (or fails with the error). */
async function expectStatus(re, timeout = 20_000, p = page) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const status = (await p.locator('#status').textContent()) || '';
    if (re.test(status)) return status;
    const err = (await errorText(p)) || '';
    if (err) throw new Error(`the console showed an error: ${err}`);
    if (Date.now() > deadline) throw new Error(`status never matched ${re}; it says: "${status}"`);
    await p.waitForTimeout(100);
  }
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A CDP virtual platform authenticator (CTAP2, resident keys, user verification) for `p`. */
async function addAuthenticator(ctx, p) {
  const cdp = await ctx.newCDPSession(p);
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
}

/** A console person's card in the People section. */
const person = (name) => page.getByRole('article', { name });

/** Confirms the modal dialog titled `title` with its button `button`. */
async function confirm(title, button) {
  const dialog = page.getByRole('dialog', { name: title });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: button, exact: true }).click();
}

/** Invites `name` as `role` from the People section (with the mouse); returns the code. */
async function invite(name, role) {
  await section('People');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByRole('button', { name: 'Create invite' }).click();
  await expectStatus(new RegExp(`Invite created for ${name}`));
  return (await page.locator('#invite-code code').textContent()).trim();
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
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] || (await context.newPage());
  await addAuthenticator(context, page);
  console.log(`screenshots: ${ARTIFACTS}`);
});

after(async () => {
  if (laptop) await laptop.browser.close();
  if (context) await context.close();
  for (const d of [profile, deviceDir, ...phoneDirs]) if (d) rmSync(d, { recursive: true, force: true });
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
const PEOPLE = 'the People section shows each person with role, devices and live sessions';
const COLLEAGUES = 'admin invites a second clinician and a front-desk colleague; their phones enroll';
const SECOND_DEVICE = "admin adds the clinician's second device (code shown) and approves it";
const TEAM = 'admin adds a clinician to a care team, removes them, and hands the client over';
const CASELOAD = "a clinician's caseload lists the client";
const BREAK_GLASS = 'a clinician off the team breaks the glass; the admin sees the alert and acknowledges it';
const END_SESSION = "admin ends the laptop's session; the laptop signs in again";
const ROLE = 'admin changes a role with a step-up; the last admin cannot be demoted';
const DEACTIVATE = 'admin deactivates a leaver with a typed reason';
const ERASE = 'admin erases a client (retention hold overridden with a second reason); the phone drops it';
const IDLE = 'the console signs itself out after inactivity (test override, shorten only)';
const SERVER_IDLE = 'after the policy idle time the console signs out, and the server ends an idle session';

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
  await section('People');
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
  clientId = await ward('client', 'add', CLIENT);
  await ward('note', 'add', clientId, SYNCED_NOTE);
  await ward('sync');
  // Written after the last sync: only the rescue before the wipe can save it.
  await ward('note', 'add', clientId, RESCUED_NOTE);
});

step(NAMES, [APPROVE], async () => {
  await page.getByRole('button', { name: 'Decrypt client names' }).click();
  await expectStatus(/1 client name\(s\) decrypted in this browser/);
});

step(PEOPLE, [APPROVE], async () => {
  await section('People');
  const casey = person(CLINICIAN);
  const phoneRow = casey.getByRole('table', { name: `Devices of ${CLINICIAN}` }).getByRole('row').filter({ hasText: PHONE });
  await phoneRow.getByText(/^(Phone|Command line)$/).waitFor();
  await phoneRow.getByText('active', { exact: true }).waitFor();
  // Last contact as a readable time, not milliseconds.
  await phoneRow.getByText(/just now|min ago/).waitFor();
  const sessions = casey.getByRole('table', { name: `Live sessions of ${CLINICIAN}` });
  await sessions.getByRole('row').filter({ hasText: PHONE }).waitFor();
  await casey.getByText('Clinician', { exact: true }).first().waitFor();
  // This browser enrolled as a console (platform "browser"), and its own session is marked.
  const me = person(new RegExp(ADMIN));
  await me.getByRole('row').filter({ hasText: 'Front office PC' }).getByText('Browser (console)').waitFor();
  await me.getByText('this session (use Sign out)').waitFor();
  await checkLabels();
  await screenshot('people');
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
  // The answer leads: patients, encryption and key custody, last contact, wipe, rescue.
  const answer = page.getByRole('region', { name: 'In short' });
  await answer.getByText(new RegExp(`1 patient\\(s\\): ${CLIENT}`)).waitFor();
  await answer.getByText(/AES-256-GCM/).waitFor();
  await answer.getByText(/^Wiped .*signed receipt/).waitFor();
  await answer.getByText(/unsynced version\(s\) uploaded to quarantine/).waitFor();
  await checkLabels();
  await screenshot('breach-scope');
  assert.ok(await page.getByRole('button', { name: 'Print' }).isEnabled());
  await page.emulateMedia({ media: 'print' });
  try {
    assert.ok(await page.getByRole('navigation', { name: 'Console sections' }).isHidden(), 'navigation printed');
    assert.ok(await answer.isVisible(), 'the answer is not printed');
    await screenshot('breach-scope-print');
  } finally {
    await page.emulateMedia({ media: 'screen' });
  }
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
  const row = page.locator('#audit-results').getByRole('row').filter({ hasText: 'device.revoke' }).first();
  await row.waitFor();
  // People and devices by name, not by id.
  await row.getByText(ADMIN).waitFor();
  await row.getByText(PHONE).first().waitFor();
  await checkLabels();
  await screenshot('audit');
});

step(POLICY, [ENROLL], async () => {
  await section('Policies');
  const idle = page.getByLabel('Idle lock after (seconds)');
  await idle.fill('600');
  assert.equal(await page.getByLabel('Console signs out after idle (minutes)').inputValue(), '15');
  assert.equal(await page.getByLabel('Console session lasts at most (hours)').inputValue(), '12');
  await page.getByLabel('Break-glass access lasts (minutes)').fill('90');
  await page.getByLabel('Clinicians on a care team may change its members').check();
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expectStatus(/Policies saved/);
  await section('Devices');
  await section('Policies');
  assert.equal(await page.getByLabel('Idle lock after (seconds)').inputValue(), '600');
  assert.equal(await page.getByLabel('Break-glass access lasts (minutes)').inputValue(), '90');
  assert.ok(await page.getByLabel('Clinicians on a care team may change its members').isChecked());
  assert.equal(await page.getByLabel('Console signs out after idle (minutes)').inputValue(), '15');
  await checkLabels();
  await screenshot('policies');
});

let danaDir;
step(COLLEAGUES, [ENROLL], async () => {
  danaDir = phoneDir();
  const dana = await invite(DANA, 'clinician');
  assert.match(
    await wardIn(danaDir, 'enroll', '--server', URL, '--tenant', TENANT, '--invite', dana, '--name', DANA, '--device-name', DANA_PHONE),
    /pending/,
  );
  const robin = await invite(ROBIN, 'front_desk');
  assert.match(
    await wardIn(phoneDir(), 'enroll', '--server', URL, '--tenant', TENANT, '--invite', robin, '--name', ROBIN, '--device-name', ROBIN_PHONE),
    /pending/,
  );
  // Dana's phone is approved from the People section.
  await section('People');
  await person(DANA).getByRole('button', { name: `Approve ${DANA_PHONE} (${DANA})` }).click();
  await expectStatus(/Approved/);
  await person(DANA).getByRole('row').filter({ hasText: DANA_PHONE }).getByText('active', { exact: true }).waitFor();
  assert.match(await wardIn(danaDir, 'refresh'), /active/);
  await person(ROBIN).getByText('Front desk', { exact: true }).first().waitFor();
});

step(SECOND_DEVICE, [PHONE_ENROLLED], async () => {
  await section('People');
  const casey = person(CLINICIAN);
  await casey.getByRole('button', { name: `Add a device for ${CLINICIAN}` }).click();
  await expectStatus(/New-device code created for Casey Clinician/);
  const code = (await casey.locator('output code').textContent()).trim();
  assert.ok(code.length >= 8, code);
  await casey.getByText(/Shown once\. Valid until/).waitFor();
  await checkLabels();
  await screenshot('device-code');

  // The laptop: a browser of its own, with its own passkey, enrolled with the code.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const lp = await ctx.newPage();
  laptop = { browser, page: lp };
  await addAuthenticator(ctx, lp);
  await lp.goto(`${URL}/console#tenant=${TENANT}`);
  await lp.getByLabel('Invite or setup code').fill(code);
  await lp.getByLabel('Your name').fill('Casey on the laptop');
  await lp.getByLabel('Name for this browser').fill(LAPTOP);
  await lp.getByRole('button', { name: 'Create passkey and enroll this browser' }).click();
  await lp.getByRole('heading', { name: 'Waiting for approval' }).waitFor({ timeout: 20_000 });

  await section('People');
  await casey.getByRole('button', { name: `Approve ${LAPTOP} (${CLINICIAN})` }).click();
  await expectStatus(/Approved/);
  const row = casey.getByRole('row').filter({ hasText: LAPTOP });
  await row.getByText('active', { exact: true }).waitFor();
  await row.getByText('Browser (console)').waitFor();
  // The code enrolled a device of the same person: the name typed on the laptop is not a person.
  assert.equal(await page.getByRole('article', { name: 'Casey on the laptop' }).count(), 0);
  await screenshot('second-device');

  await lp.getByRole('button', { name: 'Check again' }).click();
  await lp.getByRole('heading', { name: 'Admins only' }).waitFor({ timeout: 20_000 });
  laptopLastRequest = Date.now();
});

const members = () => page.getByRole('table', { name: `Members of ${CLIENT}'s care team` });
const member = (name) => members().getByRole('row').filter({ hasText: name });

step(TEAM, [APPROVE, COLLEAGUES], async () => {
  await section('Care teams');
  const client = page.getByLabel('Client', { exact: true });
  assert.equal(await client.evaluate((s) => s.selectedOptions[0].textContent), CLIENT);
  await page.getByRole('heading', { name: `Care team of ${CLIENT}` }).waitFor();
  await member(CLINICIAN).waitFor();
  await checkLabels();

  await page.getByLabel('Clinician to add').selectOption({ label: DANA });
  await page.getByLabel('Reason for this change (optional)').fill('Second opinion on the knee');
  await page.getByRole('button', { name: 'Add to team' }).click();
  await expectStatus(/Dana Doctor joined Jane Doe's care team/);
  await member(DANA).waitFor();
  await screenshot('team-added');

  await page.getByRole('button', { name: `Remove ${DANA} from the care team` }).click();
  await confirm(`Remove ${DANA} from ${CLIENT}'s care team?`, 'Remove');
  await expectStatus(/Dana Doctor left Jane Doe's care team/);
  await member(DANA).waitFor({ state: 'detached' });

  await page.getByLabel('Hand over from').selectOption({ label: CLINICIAN });
  await page.getByLabel('Hand over to').selectOption({ label: DANA });
  await page.getByLabel('Reason for this change (optional)').fill('Casey is on leave');
  await page.getByRole('button', { name: 'Hand over', exact: true }).click();
  await expectStatus(/handed over from Casey Clinician to Dana Doctor/);
  await member(DANA).waitFor();
  await member(CLINICIAN).waitFor({ state: 'detached' });
  await checkLabels();
  await screenshot('team-handover');
});

step(CASELOAD, [TEAM], async () => {
  await section('People');
  await person(DANA).getByRole('button', { name: `Caseload of ${DANA}` }).click();
  const t = page.getByRole('table', { name: `Caseload of ${DANA}` });
  await t.getByRole('row').filter({ hasText: CLIENT }).getByRole('cell', { name: 'care team', exact: true }).waitFor();
});

step(BREAK_GLASS, [TEAM, SECOND_DEVICE], async () => {
  // Casey (off the team since the hand-over) opens Jane Doe's record in an emergency, from
  // the laptop: a request signed by the laptop's own device key, through its console's API.
  const grant = await laptop.page.evaluate(
    async ({ client, reason }) => {
      const { state } = await import('/console/state.js');
      return state.api.post(`/clients/${client}/break-glass`, { reason });
    },
    { client: clientId, reason: GLASS_REASON },
  );
  laptopLastRequest = Date.now();
  assert.equal(grant.display_name, CLINICIAN);
  assert.equal(grant.acknowledged_at_ms ?? null, null);

  await section('Devices'); // any section redraws the banner
  const banner = page.getByRole('region', { name: /1 unacknowledged break-glass alert/ });
  await banner.waitFor({ timeout: 10_000 });
  await banner.getByText(new RegExp(CLINICIAN)).waitFor();
  await screenshot('break-glass-banner');

  await section('Care teams');
  const access = page.getByRole('table', { name: `Break-glass access to ${CLIENT}` });
  await access.getByRole('row').filter({ hasText: GLASS_REASON }).getByText(CLINICIAN).waitFor();

  await section('People');
  await person(CLINICIAN).getByRole('button', { name: `Caseload of ${CLINICIAN}` }).click();
  await page
    .getByRole('table', { name: `Caseload of ${CLINICIAN}` })
    .getByRole('row')
    .filter({ hasText: CLIENT })
    .getByText('break-glass (emergency)')
    .waitFor();

  await banner.getByRole('button', { name: 'Review break-glass alerts' }).click();
  const t = page.getByRole('table', { name: 'Break-glass grants' });
  const row = t.getByRole('row').filter({ hasText: GLASS_REASON });
  await row.getByText(CLIENT).waitFor();
  await row.getByText(CLINICIAN).waitFor();
  await checkLabels();
  await screenshot('break-glass-alerts');
  await row.getByRole('button', { name: `Acknowledge break-glass by ${CLINICIAN} for ${CLIENT}` }).click();
  await expectStatus(/Acknowledged/);
  await t.getByRole('row').filter({ hasText: GLASS_REASON }).getByText(`Acknowledged by ${ADMIN}`, { exact: false }).waitFor();
  await banner.waitFor({ state: 'detached' });
});

step(END_SESSION, [SECOND_DEVICE], async () => {
  await section('People');
  const casey = person(CLINICIAN);
  await casey.getByRole('button', { name: new RegExp(`^End session on ${LAPTOP}`) }).click();
  await expectStatus(/Ended the session on Casey's laptop/);
  await casey.getByRole('button', { name: new RegExp(`^End session on ${LAPTOP}`) }).waitFor({ state: 'detached' });
  // The laptop's next call is refused; it stays enrolled and signs in again.
  await laptop.page.reload();
  const signIn = laptop.page.getByRole('button', { name: 'Sign in with passkey' });
  await signIn.waitFor({ timeout: 20_000 });
  await signIn.click();
  await laptop.page.getByRole('heading', { name: 'Admins only' }).waitFor({ timeout: 20_000 });
  laptopLastRequest = Date.now();
  await section('People');
  await casey.getByRole('table', { name: `Live sessions of ${CLINICIAN}` }).getByRole('row').filter({ hasText: LAPTOP }).waitFor();
});

step(ROLE, [COLLEAGUES], async () => {
  await section('People');
  const me = person(new RegExp(ADMIN));
  await me.getByLabel(`New role for ${ADMIN}`).selectOption('clinician');
  await me.getByRole('button', { name: `Change role of ${ADMIN}` }).click();
  await confirm(`Make ${ADMIN} clinician?`, 'Change role');
  await page.locator('#error').filter({ hasText: 'last_admin' }).waitFor({ timeout: 20_000 });
  assert.match(await errorText(), /admin first/i);
  await screenshot('last-admin');

  const robin = person(ROBIN);
  await robin.getByLabel(`New role for ${ROBIN}`).selectOption('clinician');
  await robin.getByRole('button', { name: `Change role of ${ROBIN}` }).click();
  await confirm(`Make ${ROBIN} clinician?`, 'Change role');
  await expectStatus(/Robin Reception is now clinician/);
  await person(ROBIN).locator('.meta').getByText('Clinician', { exact: true }).waitFor();
  await checkLabels();
});

step(DEACTIVATE, [COLLEAGUES], async () => {
  await section('People');
  const robin = person(ROBIN);
  await robin.getByRole('button', { name: `Deactivate ${ROBIN}` }).click();
  await page.locator('#error').filter({ hasText: 'Type a reason' }).waitFor();
  await robin.getByLabel(`Reason for deactivating ${ROBIN}`).fill('Left the clinic');
  await robin.getByRole('button', { name: `Deactivate ${ROBIN}` }).click();
  await confirm(`Deactivate ${ROBIN}?`, 'Deactivate');
  await expectStatus(/Deactivated Robin Reception: [1-9]\d* device\(s\) revoked/);
  await person(ROBIN).getByText(/^deactivated /).waitFor();
  assert.equal(await person(ROBIN).getByRole('button').count(), 0, 'a deactivated person has no actions');
  // A deactivated clinician is offered for no care team.
  await section('Care teams');
  const offered = await page.getByLabel('Clinician to add').evaluate((s) => [...s.options].map((o) => o.textContent));
  assert.ok(!offered.includes(ROBIN), offered.join(', '));
  await screenshot('deactivated');
});

step(IDLE, [ENROLL], async () => {
  // The test hook only ever shortens the policy's timeout.
  const limits = await page.evaluate(async () => {
    const idle = await import('/console/idle.js');
    const hash = location.hash;
    localStorage.setItem('ward.idleSeconds', '999999');
    const longer = idle.idleLimitMs(15);
    location.hash = `${hash.slice(1)}&idle=2`;
    const fromHash = idle.idleLimitMs(15);
    location.hash = hash;
    localStorage.setItem('ward.idleSeconds', '3');
    const shorter = idle.idleLimitMs(15);
    return { longer, fromHash, shorter };
  });
  assert.deepEqual(limits, { longer: 15 * 60_000, fromHash: 2000, shorter: 3000 });
  await page.reload();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ timeout: 20_000 });
  const started = Date.now();
  const signIn = page.getByRole('button', { name: 'Sign in with passkey' });
  await signIn.waitFor({ timeout: 20_000 });
  assert.ok(Date.now() - started >= 2000, 'signed out before the timeout');
  await expectStatus(/Signed out after inactivity/);
  await screenshot('idle-signed-out');
  await page.evaluate(() => localStorage.removeItem('ward.idleSeconds'));
  await signIn.click();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ timeout: 20_000 });
  await expectStatus(/Signed in/);
});

step(SERVER_IDLE, [IDLE, END_SESSION], async () => {
  await section('Policies');
  await page.getByLabel('Console signs out after idle (minutes)').fill('1');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expectStatus(/Policies saved/);
  const saved = Date.now();
  // This console: a minute without activity, and it signs itself out.
  const signIn = page.getByRole('button', { name: 'Sign in with passkey' });
  await signIn.waitFor({ timeout: 90_000 });
  assert.ok(Date.now() - saved >= 55_000, 'signed out before a minute');
  await expectStatus(/Signed out after inactivity/);
  // The laptop signed in under the old 15 minutes and has sent nothing since: the server
  // ends its session once a minute (to the minute) has passed without a request.
  const wait = laptopLastRequest + 125_000 - Date.now();
  if (wait > 0) await laptop.page.waitForTimeout(wait);
  await laptop.page.reload();
  await laptop.page.getByRole('button', { name: 'Sign in with passkey' }).waitFor({ timeout: 20_000 });
  await expectStatus(/Your session ended/, 5_000, laptop.page);
  await laptop.page.screenshot({ path: join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-laptop-session-ended.png`) });
});

step(ERASE, [COLLEAGUES, POLICY, SERVER_IDLE], async () => {
  // Last: the earlier steps spent this admin's step-up budget; the idle step signed out.
  await page.getByRole('button', { name: 'Sign in with passkey' }).click();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ timeout: 20_000 });
  const EVE = 'Eve Erased';
  const eve = await wardIn(danaDir, 'client', 'add', EVE);
  await wardIn(danaDir, 'note', 'add', eve, 'Consultation: wants to be forgotten');
  await wardIn(danaDir, 'sync');
  assert.match(await wardIn(danaDir, 'client', 'list'), /Eve Erased/);
  // The clinic keeps records five years.
  await section('Policies');
  const years = page.getByLabel('Keep clinical records for (years after the last entry)');
  await years.fill('5');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expectStatus(/Policies saved/);

  await section('Erasure');
  await page.getByLabel('Client to erase').selectOption({ label: EVE });
  await page.getByLabel('Why this client is erased').fill('Patient asked to be forgotten (letter of 2 Dec)');
  await page.getByRole('button', { name: 'Erase client' }).click();
  await confirm(`Erase ${EVE}?`, 'Erase');
  // Inside the retention period: refused until a second reason is given.
  await page.locator('#error').getByText(/retention/).waitFor({ timeout: 20_000 });
  await checkLabels();
  await screenshot('erasure-retention-hold');
  await page.getByLabel('Why the retention period is overridden (only if asked)').fill('Single consultation, no treatment given: DPO approved');
  await page.getByRole('button', { name: 'Erase client' }).click();
  await confirm(`Erase ${EVE}?`, 'Erase');
  await expectStatus(/Eve Erased was erased: [1-9]\d* versions/);
  const ledger = page.getByRole('table', { name: 'Erasure ledger' });
  const row = ledger.getByRole('row').filter({ hasText: `erased client ${eve.slice(0, 8)}` });
  await row.getByText('complete', { exact: true }).waitFor();
  await row.getByText('overridden').waitFor();
  await row.getByText(ADMIN).waitFor();
  // The erased client is no longer offered, and the ledger names no one.
  const offered = await page.getByLabel('Client to erase').evaluate((s) => [...s.options].map((o) => o.textContent));
  assert.ok(!offered.includes(EVE), offered.join(', '));
  assert.equal(await ledger.getByText(EVE).count(), 0);
  await screenshot('erasure-ledger');
  // Dana's phone drops Eve at its next sync.
  await wardIn(danaDir, 'sync');
  assert.doesNotMatch(await wardIn(danaDir, 'client', 'list'), /Eve Erased/);
});
