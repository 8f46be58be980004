// Talking to arbor's REST API: the CSRF header on every change, problem+json errors as `Problem`s, and
// waiting out rate limits (arbor's 429, Jira's 503 with Retry-After) for requests that only read.

const BASE = '/api/v1';
const MAX_RATE_LIMIT_WAITS = 5;

let csrfToken = '';

/** Set once the session is known; sent as `X-CSRF-Token` with every request that is not a GET. */
export function useCsrfToken(token) {
  csrfToken = token;
}

/** An error answer: `detail` is written for the person reading it. */
export class Problem extends Error {
  constructor(status, title, detail, body = {}, retryAfter = 0) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.detail = detail || title;
    this.body = body;
    this.retryAfter = retryAfter;
  }

  /** The problem's `type` without its prefix: `conflict`, `jira-rate-limited`, `sign-in-required`, ... */
  get kind() {
    return String(this.body.type || '').replace('/problems/', '');
  }

  get isRateLimit() {
    return this.status === 429 || (this.status === 503 && this.retryAfter > 0);
  }

  /** Who is limiting: arbor itself (429) or Jira behind it. */
  get limiter() {
    return this.status === 429 ? 'arbor' : 'Jira';
  }
}

/**
 * Reports rate limits and lost sessions to whoever shows them:
 * `ratelimit` (detail: {limiter, seconds}), `ratelimitover`, `signedout`.
 */
export const apiEvents = new EventTarget();

async function problemOf(response) {
  const retryAfter = Number(response.headers.get('Retry-After')) || 0;
  let body = {};
  if ((response.headers.get('Content-Type') || '').includes('json')) {
    body = await response.json().catch(() => ({}));
  }
  const title = body.title || response.statusText || `HTTP ${response.status}`;
  return new Problem(response.status, title, body.detail, body, retryAfter);
}

async function once(method, path, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = csrfToken;
    headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new Problem(0, 'Network error', 'arbor cannot be reached; check your connection and try again');
  }
  if (response.ok) {
    if (response.status === 204) return null;
    return response.json();
  }
  const problem = await problemOf(response);
  if (problem.status === 401) apiEvents.dispatchEvent(new CustomEvent('signedout', { detail: problem }));
  throw problem;
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/**
 * One API call. `reads` marks requests that change nothing (every GET, and windows of rows): those wait out
 * a rate limit and try again, announcing the wait; the others fail at once with the problem.
 */
export async function call(method, path, body, { reads = method === 'GET' } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await once(method, BASE + path, body);
      if (attempt > 0) apiEvents.dispatchEvent(new Event('ratelimitover'));
      return result;
    } catch (problem) {
      if (!reads || !(problem instanceof Problem) || !problem.isRateLimit || attempt >= MAX_RATE_LIMIT_WAITS) {
        if (attempt > 0) apiEvents.dispatchEvent(new Event('ratelimitover'));
        throw problem;
      }
      const seconds = Math.max(1, problem.retryAfter);
      apiEvents.dispatchEvent(new CustomEvent('ratelimit', { detail: { limiter: problem.limiter, seconds } }));
      await sleep(seconds);
    }
  }
}

export const get = (path) => call('GET', path);
export const post = (path, body, options) => call('POST', path, body, options);
export const put = (path, body) => call('PUT', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

/** `POST /auth/logout` (outside `/api/v1`). */
export async function logOut() {
  const response = await fetch('/auth/logout', {
    method: 'POST',
    headers: { 'X-CSRF-Token': csrfToken, 'Content-Type': 'application/json' },
    credentials: 'same-origin',
  });
  if (!response.ok && response.status !== 401) throw await problemOf(response);
}
