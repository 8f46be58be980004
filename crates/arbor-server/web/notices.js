// Messages to the person: short confirmations (a toast, also read out by screen readers) and problems (a
// banner that stays until closed or replaced).

import { h } from './dom.js';

const TOAST_MS = 6000;

/** A short confirmation such as "Moved 2 rows", optionally with one action ("Undo"). */
export function announce(text, action) {
  document.getElementById('announce').textContent = text;
  document.querySelector('.toast')?.remove();
  const toast = h('div', { class: 'toast' }, h('span', {}, text),
    action ? h('button', { type: 'button', onclick: () => { toast.remove(); action.run(); } }, action.label) : null);
  document.body.append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
}

/**
 * Shows a problem (or any error) in the banner. `actions` are `{label, run}` buttons next to it. `key` names
 * the banner so that a later one with the same key replaces it.
 */
export function showProblem(problem, { actions = [], key = 'problem', title } = {}) {
  const alerts = document.getElementById('alerts');
  alerts.querySelector(`[data-key="${key}"]`)?.remove();
  const detail = problem.detail || problem.message || String(problem);
  const banner = h('div', { class: 'banner', 'data-key': key },
    h('p', {}, title ? h('strong', {}, `${title} `) : null, detail),
    actions.map((action) => h('button', { type: 'button', onclick: () => { banner.remove(); action.run(); } }, action.label)),
    h('button', { type: 'button', class: 'banner-close', 'aria-label': 'Dismiss', onclick: () => banner.remove() }, '×'));
  alerts.append(banner);
}

/** Removes every banner (when the page changes). */
export function clearProblems() {
  document.getElementById('alerts').replaceChildren();
}
