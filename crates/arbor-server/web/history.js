// The history dialog: who changed what and when, newest first, with "restore this version" (Edit).

import { get, post } from './api.js';
import { h, plural, when } from './dom.js';
import { openDialog } from './dialog.js';

const PAGE = 500;
const MAX_PAGES = 40;

/** A generator's query, text, keys or formula (the settings the server sends from Automate). */
const settingsOf = (config) => config.jql || config.formula || config.text
  || (config.keys ? config.keys.join(', ') : '') || (config.structure_id ? `structure ${config.structure_id}` : '');

/** What an entry did, as the server words it (older servers: the operation's name). */
const described = (item) => item.description || item.op;

/** The restore dialog's words for what happens to each generator. */
const CHANGES = {
  back: 'comes back',
  gone: 'goes (its settings are kept: undoing the restore brings it back)',
  changed: 'runs with the settings it had then',
};

/** Opens the history of a structure. `me`: the caller's account id; `restored(result, version)` after a restore. */
export function openHistory({ structure, me, canRestore, restored }) {
  const items = [];
  const list = h('ol', { class: 'history' }, h('li', { class: 'muted' }, 'Loading…'));
  const error = h('p', { class: 'error-text', role: 'alert', hidden: true });

  // Pages come oldest first, so every page is read before the newest entries can be shown first.
  const load = async () => {
    try {
      for (let pages = 0, after = 0; pages < MAX_PAGES; pages += 1) {
        const page = await get(`/structures/${structure.id}/history?after=${after}`);
        items.push(...page);
        if (page.length < PAGE) break;
        after = page[page.length - 1].seq;
      }
      render();
    } catch (problem) {
      list.replaceChildren(h('li', { class: 'error-text' }, problem.detail));
    }
  };

  const render = () => {
    if (!items.length) {
      list.replaceChildren(h('li', { class: 'muted' }, 'No changes yet.'));
      return;
    }
    const latest = items.reduce((max, item) => Math.max(max, item.version ?? 0), 0);
    list.replaceChildren(...[...items].reverse().map((item) => h('li', { class: 'history-item' },
      h('div', {},
        h('strong', {}, described(item)),
        h('p', { class: 'muted' }, `${when(item.at)} · ${item.actor === me ? 'you' : (item.actor_name || item.actor)}`,
          item.version ? ` · version ${item.version}` : '')),
      canRestore && item.version && item.version !== latest
        ? h('button', { type: 'button', onclick: () => restore(item) }, 'Restore this version') : null)));
  };

  const restore = async (item) => {
    error.hidden = true;
    let preview;
    try {
      preview = await get(`/structures/${structure.id}/restore?version=${item.version}`);
    } catch (problem) {
      error.textContent = problem.detail;
      error.hidden = false;
      return;
    }
    const rows = (n) => plural(n, 'row');
    const body = [
      h('p', {}, `Make the structure what it was at version ${item.version} (${when(item.at)})?`),
      h('p', { class: 'restore-rows' },
        `Rows placed by hand: ${rows(preview.rows_now)} now, ${rows(preview.rows_then)} after the restore.`),
      preview.generators.length
        ? h('div', {},
          h('p', {}, 'Generators that change:'),
          h('ul', { class: 'restore-generators' }, preview.generators.map(({ change, generator }) => h('li', {},
            h('strong', {}, generator.description),
            generator.config ? h('span', { class: 'code' }, ` (${settingsOf(generator.config)})`) : null,
            ` — ${CHANGES[change] || change}`))))
        : h('p', {}, 'No generator changes.'),
      h('p', { class: 'muted' }, 'Views and permissions stay as they are. The restore is a change like any other: you can undo it.'),
      preview.allowed ? null : h('p', { class: 'error-text' },
        'It adds, removes or changes generators, which needs the Automate level: ask someone who has it.'),
    ];
    openDialog({
      title: `Restore version ${item.version}`,
      body,
      actions: preview.allowed ? [{
        label: 'Restore',
        primary: true,
        onClick: async () => {
          const result = await post(`/structures/${structure.id}/restore`, { version: item.version });
          dialog.close();
          restored(result, item.version);
        },
      }] : [],
    });
  };

  const dialog = openDialog({ title: `History of “${structure.name}”`, wide: true, body: [error, list] });
  load();
}
