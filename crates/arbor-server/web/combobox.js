// A combobox with a list of suggestions (the WAI-ARIA "editable combobox with list autocomplete" pattern):
// the person types, suggestions are asked for once they pause, arrow keys move through them, Enter or a click
// chooses one, Escape closes the list. The input shows the chosen item's name; its id is what the caller reads.

import { h } from './dom.js';

const DELAY_MS = 250;
let nextId = 0;

/**
 * `combobox({label, placeholder, search, chosen, note})`: `search(text)` resolves to `[{id, name, detail?}]`
 * (at most a few dozen); `chosen` is the `{id, name}` to start with, or null; `note` is shown under the input
 * until something else is. Returns `{element, input, value}`: `value()` is the chosen `{id, name}` or null
 * while what the input holds was not chosen from the list.
 */
export function combobox({ label, placeholder = '', search, chosen = null, note = '' }) {
  nextId += 1;
  const listId = `combobox-${nextId}-list`;
  const statusId = `combobox-${nextId}-status`;
  const input = h('input', {
    type: 'text', role: 'combobox', 'aria-label': label, 'aria-autocomplete': 'list',
    'aria-expanded': 'false', 'aria-controls': listId, 'aria-describedby': statusId,
    autocomplete: 'off', spellcheck: 'false', placeholder, value: chosen ? chosen.name : '',
  });
  const list = h('ul', { id: listId, role: 'listbox', 'aria-label': `${label}: suggestions`, class: 'combobox-list', hidden: true });
  const status = h('div', { id: statusId, class: 'combobox-status muted', 'aria-live': 'polite' }, note);
  const element = h('div', { class: 'combobox' }, input, list, status);

  let value = chosen;
  let items = [];
  let active = -1;
  let timer = 0;
  let asked = 0;

  const say = (text, kind = 'muted') => {
    status.className = `combobox-status ${kind}`;
    status.textContent = text;
  };

  const open = () => {
    if (!items.length) return;
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  };

  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    highlight(-1);
  };

  const highlight = (index) => {
    active = index;
    [...list.children].forEach((option, i) => {
      option.setAttribute('aria-selected', String(i === index));
      option.classList.toggle('active', i === index);
    });
    if (index < 0) {
      input.removeAttribute('aria-activedescendant');
      return;
    }
    const option = list.children[index];
    input.setAttribute('aria-activedescendant', option.id);
    option.scrollIntoView({ block: 'nearest' });
  };

  const choose = (index) => {
    const item = items[index];
    if (!item) return;
    // A search still waiting to run would reopen the list over the choice.
    clearTimeout(timer);
    value = { id: item.id, name: item.name };
    input.value = item.name;
    input.removeAttribute('aria-invalid');
    close();
    say(item.detail ? `${item.name} (${item.detail})` : '');
  };

  const show = (found, text) => {
    items = found;
    list.replaceChildren(...found.map((item, i) => h('li', {
      id: `${listId}-${i}`, role: 'option', 'aria-selected': 'false', class: 'combobox-option',
      // Keep the focus in the input; the click chooses.
      onmousedown: (event) => event.preventDefault(),
      onclick: () => choose(i),
    }, h('span', {}, item.name), item.detail ? h('span', { class: 'combobox-detail' }, item.detail) : null)));
    if (!found.length) {
      close();
      say(`No matches for “${text}”`);
      return;
    }
    say(found.length === 1 ? '1 match: use the arrow keys or click to choose it' : `${found.length} matches: use the arrow keys or click to choose`);
    open();
  };

  const run = async () => {
    const text = input.value.trim();
    asked += 1;
    const ask = asked;
    if (!text) {
      items = [];
      list.replaceChildren();
      close();
      say('');
      return;
    }
    say('Searching…');
    try {
      const found = await search(text);
      if (ask === asked) show(found, text);
    } catch (problem) {
      if (ask !== asked) return;
      items = [];
      list.replaceChildren();
      close();
      say(`Could not search: ${problem.detail || problem.message}`, 'error-text');
    }
  };

  input.addEventListener('input', () => {
    if (!value || input.value !== value.name) value = null;
    input.removeAttribute('aria-invalid');
    clearTimeout(timer);
    timer = setTimeout(run, DELAY_MS);
  });

  input.addEventListener('keydown', (event) => {
    const shown = !list.hidden;
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        if (!shown) {
          open();
          if (!event.altKey && items.length) highlight(0);
        } else if (items.length) {
          highlight((active + 1) % items.length);
        }
        break;
      case 'ArrowUp':
        event.preventDefault();
        if (!shown) {
          open();
          if (items.length) highlight(items.length - 1);
        } else if (items.length) {
          highlight(active <= 0 ? items.length - 1 : active - 1);
        }
        break;
      case 'Enter':
        // Never submits the dialog while a list is open or a name is half typed.
        if (shown || (input.value.trim() && !value)) event.preventDefault();
        if (shown && active >= 0) choose(active);
        else if (shown && items.length === 1) choose(0);
        break;
      case 'Escape':
        if (shown) {
          // Closes the list, not the dialog around it.
          event.preventDefault();
          event.stopPropagation();
          close();
        }
        break;
      case 'Tab':
        close();
        break;
      default:
    }
  });

  element.addEventListener('focusout', (event) => {
    if (element.contains(event.relatedTarget)) return;
    close();
    if (input.value.trim() && !value) {
      input.setAttribute('aria-invalid', 'true');
      say('Choose one of the suggestions, or the rule cannot be saved', 'error-text');
    }
  });

  return { element, input, value: () => value };
}
