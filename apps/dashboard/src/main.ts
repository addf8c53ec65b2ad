import './style.css';
import { poll } from './api.js';
import { ConsoleView } from './console-view.js';
import { byId } from './dom.js';
import { PriceBoardPanel } from './price-board-panel.js';
import { getAdminJson, storeAdminToken, storedAdminToken } from './session.js';
import { settingsFrom } from './settings.js';
import { SignalFeedPanel } from './signal-feed-panel.js';
import { snapshotOf } from './snapshot.js';

/** How often the console asks for the cluster snapshot. */
const SNAPSHOT_INTERVAL_MS = 2_000;
const SNAPSHOT_PATH = '/api/console/snapshot';

const settings = settingsFrom(window.location.search);

const login = byId('login', HTMLElement);
const loginForm = byId('login-form', HTMLFormElement);
const tokenInput = byId('admin-token', HTMLInputElement);
const loginError = byId('login-error', HTMLElement);
const consoleMain = byId('console', HTMLElement);
const logout = byId('logout', HTMLButtonElement);
const state = byId('console-state', HTMLElement);

const view = new ConsoleView({
  servedBy: byId('served-by', HTMLElement),
  clusterNote: byId('cluster-note', HTMLElement),
  protocolRows: byId('protocol-rows', HTMLTableSectionElement),
  busRows: byId('bus-rows', HTMLTableSectionElement),
  authRows: byId('auth-rows', HTMLTableSectionElement),
  errorRows: byId('error-rows', HTMLTableSectionElement),
  closeRows: byId('close-rows', HTMLTableSectionElement),
  sourceRows: byId('source-rows', HTMLTableSectionElement),
  workerRows: byId('worker-rows', HTMLTableSectionElement),
  charts: byId('charts', HTMLElement),
});
const prices = new PriceBoardPanel(
  {
    form: byId('strategy-form', HTMLFormElement),
    strategyInput: byId('strategy', HTMLInputElement),
    state: byId('price-state', HTMLElement),
    summary: byId('price-summary', HTMLElement),
    rows: byId('price-rows', HTMLTableSectionElement),
  },
  settings.strategy,
  settings.token,
);
const signals = new SignalFeedPanel(
  {
    form: byId('token-form', HTMLFormElement),
    tokenInput: byId('token', HTMLInputElement),
    testButton: byId('send-test', HTMLButtonElement),
    state: byId('signal-state', HTMLElement),
    note: byId('signal-note', HTMLElement),
    rows: byId('signal-rows', HTMLOListElement),
  },
  settings.token,
  (token) => {
    prices.setToken(token);
  },
);

let adminToken = storedAdminToken();
let panelsStarted = false;
/** Successful polls so far: tests and operators can tell a fresh figure from a stale one. */
let polls = 0;

function showLogin(message: string): void {
  consoleMain.hidden = true;
  logout.hidden = true;
  login.hidden = false;
  loginError.textContent = message;
  state.textContent = 'signed out';
  state.dataset['state'] = 'down';
  tokenInput.focus();
}

function showConsole(): void {
  login.hidden = true;
  consoleMain.hidden = false;
  logout.hidden = adminToken === undefined;
  // The live panels are clients of the gateway too: they start once the operator is in.
  if (!panelsStarted) {
    panelsStarted = true;
    prices.start();
    signals.start();
  }
}

/** One poll: the snapshot, or what to tell the operator. */
async function refresh(): Promise<void> {
  let reply;
  try {
    reply = await getAdminJson(SNAPSHOT_PATH, adminToken);
  } catch {
    state.textContent = 'gateway unreachable';
    state.dataset['state'] = 'down';
    consoleMain.classList.add('stale');
    return;
  }
  if (reply.status === 401) {
    if (adminToken !== undefined) {
      adminToken = undefined;
      storeAdminToken(undefined);
      showLogin('The gateway refused this token.');
    } else {
      showLogin('');
    }
    return;
  }
  if (reply.status === 403) {
    showLogin('This gateway has no ADMIN_TOKEN: its console answers only on the gateway machine itself (not through a proxy). Set ADMIN_TOKEN to use it from here.');
    return;
  }
  if (reply.status === 429) {
    showLogin('Too many wrong tokens from this address: wait a minute, then try again.');
    return;
  }
  const snapshot = reply.status === 200 ? snapshotOf(reply.body) : undefined;
  if (snapshot === undefined) {
    state.textContent = `snapshot failed (HTTP ${reply.status})`;
    state.dataset['state'] = 'down';
    consoleMain.classList.add('stale');
    return;
  }
  showConsole();
  consoleMain.classList.remove('stale');
  view.update(snapshot, Date.now());
  polls += 1;
  state.textContent = snapshot.missingNodes.length === 0 ? 'live' : 'partial';
  state.dataset['state'] = snapshot.missingNodes.length === 0 ? 'up' : 'down';
  state.dataset['seq'] = String(polls);
}

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const entered = tokenInput.value.trim();
  if (entered === '') {
    return;
  }
  adminToken = entered;
  storeAdminToken(entered);
  tokenInput.value = '';
  loginError.textContent = '';
  void refresh();
});

logout.addEventListener('click', () => {
  adminToken = undefined;
  storeAdminToken(undefined);
  showLogin('');
});

poll(SNAPSHOT_INTERVAL_MS, refresh);
