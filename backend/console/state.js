// Ward admin console: what every section shares. The page's state (this browser's device, the
// session, and the tenant keys, client names, people, devices, the clinic policy and the
// break-glass alerts held in memory only), the API
// client bound to that state, and the navigation hooks app.js registers, so that a section can
// re-render the page or show a section without importing app.js.

import { Api } from './api.js';

/** The page's state. Tenant keys and client names live here and nowhere else (memory only). */
export const state = {
  device: null,
  session: null,
  me: null,
  api: null,
  keys: null, // Map epoch -> CryptoKey (memory only)
  clients: new Map(), // client id -> display name (memory only)
  clientIds: [], // every client record id the feed holds, decrypted or not
  users: new Map(), // user id -> Person {user_id, display_name, role, devices, sessions, …}
  devices: [],
  policy: null, // the clinic policy as GET /policy last answered
  alerts: [], // break-glass grants as GET /break-glass last answered
  section: 'devices',
  breachDevice: null, // the device the breach-scope section opens with
};

/** An API client for `tenant` that signs with this browser's device key and session. */
export function makeApi(tenant) {
  return new Api(tenant, () => ({ device: state.device, session: state.session }));
}

const navigation = {
  render: () => {},
  show: async () => {},
};

/** Called once by app.js: how to redraw the page and how to show a section. */
export function setNavigation({ render, show }) {
  navigation.render = render;
  navigation.show = show;
}

/** Redraws the whole page for the current state (enroll, sign in or dashboard). */
export function render() {
  navigation.render();
}

/** Shows the section `name` (an id of app.js's section list); resolves when it is drawn. */
export function showSection(name) {
  return navigation.show(name);
}
