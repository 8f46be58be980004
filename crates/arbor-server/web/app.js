// The app shell: who is signed in, the header, rate-limit notices, and hash routing between the structure
// list (`#/`) and a board (`#/s/<id>`).

import { apiEvents, get, logOut, useCsrfToken } from './api.js';
import { h } from './dom.js';
import { clearProblems, showProblem } from './notices.js';
import { showList } from './list.js';
import { showBoard } from './board.js';

const main = document.getElementById('main');
let session = null;
let currentPage = null;

function showSignIn(reason) {
  session = null;
  leavePage();
  document.getElementById('account').replaceChildren();
  main.replaceChildren(h('section', { class: 'sign-in' },
    h('h1', {}, 'arbor'),
    h('p', {}, 'Structures of Jira issues, read live from Jira as you.'),
    reason ? h('p', { class: 'muted' }, reason) : null,
    h('a', { class: 'button primary', href: '/auth/login' }, 'Sign in with Atlassian')));
}

function showAccount() {
  const site = (() => {
    try { return new URL(session.site).host; } catch { return session.site; }
  })();
  const logOutButton = h('button', {
    type: 'button',
    onclick: async () => {
      logOutButton.disabled = true;
      try {
        await logOut();
        showSignIn('You are signed out.');
      } catch (problem) {
        logOutButton.disabled = false;
        showProblem(problem, { title: 'Could not sign out.' });
      }
    },
  }, 'Log out');
  document.getElementById('account').replaceChildren(
    h('span', { class: 'muted', title: `Jira site ${session.site}` }, site),
    h('span', { class: 'account-id', title: `Atlassian account id ${session.account_id}` }, session.display_name || session.account_id),
    logOutButton);
}

function leavePage() {
  if (currentPage) currentPage.leave();
  currentPage = null;
  clearProblems();
}

function route() {
  if (!session) return;
  leavePage();
  const hash = location.hash || '#/';
  const board = /^#\/s\/(\d+)$/.exec(hash);
  if (hash === '#/') {
    currentPage = showList(main);
  } else if (board) {
    currentPage = showBoard(main, session, Number(board[1]));
  } else {
    main.replaceChildren(h('section', { class: 'page' }, h('h1', {}, 'Nothing here'),
      h('p', {}, h('a', { href: '#/' }, 'Go to your structures'))));
  }
}

function showRateLimit() {
  const notice = document.getElementById('rate-limit');
  let timer = null;
  apiEvents.addEventListener('ratelimit', (event) => {
    const { limiter, seconds } = event.detail;
    const until = Date.now() + seconds * 1000;
    clearInterval(timer);
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      notice.textContent = `${limiter} is rate-limiting, retrying in ${left} s`;
    };
    tick();
    timer = setInterval(tick, 1000);
    notice.hidden = false;
  });
  apiEvents.addEventListener('ratelimitover', () => {
    clearInterval(timer);
    notice.hidden = true;
  });
}

async function start() {
  showRateLimit();
  apiEvents.addEventListener('signedout', (event) => showSignIn(
    session ? `Your session ended: ${event.detail.detail}` : ''));
  window.addEventListener('hashchange', route);
  try {
    session = await get('/session');
  } catch (problem) {
    if (problem.status !== 401) {
      main.replaceChildren(h('section', { class: 'page' }, h('h1', {}, 'arbor is not available'),
        h('p', {}, problem.detail),
        h('button', { type: 'button', onclick: () => location.reload() }, 'Try again')));
    }
    return;
  }
  useCsrfToken(session.csrf_token);
  showAccount();
  route();
}

start();
