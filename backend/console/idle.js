// Ward admin console: idle logout. A signed-in console signs itself out after the clinic
// policy's `console_idle_minutes` (default 15) without mouse, keyboard or touch activity; the
// server ends an idle console session on its side too (answered 401 `session_expired`, see
// actions.js). A test-only override can SHORTEN the timeout, never lengthen it: the hash
// parameter `#idle=<seconds>` or `localStorage['ward.idleSeconds']` (docs/console.md).

const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'];
const DEFAULT_MINUTES = 15;

let lastActivity = Date.now();
let ticker = null;
let limitMs = DEFAULT_MINUTES * 60_000;
let onIdle = null;
let listening = false;

function touch() {
  lastActivity = Date.now();
}

/** The test hook's seconds (hash `idle` or localStorage `ward.idleSeconds`), or null. */
function override() {
  const found = [];
  found.push(new URLSearchParams(location.hash.slice(1)).get('idle'));
  try {
    found.push(localStorage.getItem('ward.idleSeconds'));
  } catch {
    // Storage blocked: no override.
  }
  const seconds = found.map((v) => (v === null ? NaN : Number(v))).filter((n) => Number.isFinite(n) && n > 0);
  return seconds.length ? Math.min(...seconds) : null;
}

/**
 * The idle timeout in milliseconds for a policy's `console_idle_minutes`: the policy's (at
 * least one minute), or the test override when that is shorter.
 */
export function idleLimitMs(policyMinutes) {
  const minutes = Number(policyMinutes) >= 1 ? Number(policyMinutes) : DEFAULT_MINUTES;
  const policyMs = minutes * 60_000;
  const o = override();
  return o !== null && o * 1000 < policyMs ? o * 1000 : policyMs;
}

/**
 * Starts (or restarts) the idle timer: `fire()` runs once after `idleLimitMs(policyMinutes)`
 * without activity. Activity before then starts the wait again.
 */
export function startIdle(policyMinutes, fire) {
  stopIdle();
  limitMs = idleLimitMs(policyMinutes);
  onIdle = fire;
  touch();
  if (!listening) {
    for (const ev of ACTIVITY) window.addEventListener(ev, touch, { passive: true, capture: true });
    listening = true;
  }
  // A coarse tick instead of one long timeout: it also catches a laptop that slept.
  ticker = setInterval(() => {
    if (Date.now() - lastActivity < limitMs) return;
    const f = onIdle;
    stopIdle();
    if (f) f();
  }, Math.min(1000, limitMs / 4));
}

/** Changes the timeout of a running timer (e.g. after the policy was saved). */
export function setIdleMinutes(policyMinutes) {
  if (ticker) limitMs = idleLimitMs(policyMinutes);
}

/** Stops the timer (sign-out). */
export function stopIdle() {
  if (ticker) clearInterval(ticker);
  ticker = null;
  onIdle = null;
}

/** Milliseconds since the last activity (for the alert poll: no activity, no request). */
export function idleForMs() {
  return Date.now() - lastActivity;
}
