// Checking JQL and formulas as they are typed (`POST /api/v1/check/jql|formula`): the error is shown under
// the field with the offending line and a caret at its column; for JQL whose syntax is valid, Jira's own errors
// and warnings (asked as you: projects, fields or values that do not exist or that you cannot see).

import { post } from './api.js';
import { fill, h } from './dom.js';

const DELAY_MS = 400;
const NAMES = { jql: 'JQL', formula: 'formula' };
let nextId = 0;

/** Watches `input` (a textarea or input) and returns the element that shows the result of checking it. */
export function checkAsYouType(input, kind) {
  nextId += 1;
  const output = h('div', { class: 'check', id: `check-${nextId}`, 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', output.id);
  let timer = 0;
  let asked = 0;

  const run = async () => {
    const text = input.value;
    asked += 1;
    const ask = asked;
    if (!text.trim()) {
      show(null);
      return;
    }
    try {
      const result = await post(`/check/${kind}`, { text }, { reads: true });
      if (ask === asked) show(result, text);
    } catch (problem) {
      if (ask !== asked) return;
      output.replaceChildren(h('span', { class: 'muted' }, `Could not check the ${NAMES[kind]}: ${problem.detail}`));
    }
  };

  const show = (result, text) => {
    input.removeAttribute('aria-invalid');
    if (!result) {
      fill(output, null);
      return;
    }
    if (result.valid) {
      fill(output, h('span', { class: 'check-ok' }, result.unchecked ? `Valid ${NAMES[kind]} syntax` : `Valid ${NAMES[kind]}`),
        result.unchecked ? h('span', { class: 'muted' }, ` — Jira could not check it now: ${result.unchecked}`) : null);
      return;
    }
    input.setAttribute('aria-invalid', 'true');
    // Jira's own verdict, asked as you: it has no line and column, only its words.
    const errors = result.errors ?? [];
    const warnings = result.warnings ?? [];
    if (errors.length || warnings.length) {
      fill(output, ...errors.map((message) => h('p', { class: 'error-text' }, `Jira refuses this query: ${message}`)),
        ...warnings.map((message) => h('p', { class: 'error-text' }, `Jira warns: ${message}`)));
      return;
    }
    const where = result.line ? ` (line ${result.line}, column ${result.column})` : '';
    fill(output, h('span', { class: 'error-text' }, `${result.message}${where}`),
      result.line ? errorLine(text, result.line, result.column) : null,
      result.line ? h('button', {
        type: 'button', class: 'link-button',
        onclick: () => {
          const at = offsetOf(text, result.line, result.column);
          input.focus();
          input.setSelectionRange(at, at);
        },
      }, 'Go to the error') : null);
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, DELAY_MS);
  });
  run();
  return output;
}

/** The offending line with a caret under the column (both 1-based). */
function errorLine(text, line, column) {
  const source = (text.split('\n')[line - 1] || '').replaceAll('\t', ' ');
  return h('pre', { class: 'check-line', 'aria-hidden': 'true' }, `${source}\n${' '.repeat(Math.max(0, column - 1))}^`);
}

function offsetOf(text, line, column) {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i += 1) offset += lines[i].length + 1;
  return Math.min(text.length, offset + column - 1);
}
