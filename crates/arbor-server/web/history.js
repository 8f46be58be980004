// The history dialog: who changed what and when, newest first, with "restore this version" (Edit).

import { get, post } from './api.js';
import { h, plural, when } from './dom.js';
import { confirmDialog, openDialog } from './dialog.js';

const PAGE = 500;
const MAX_PAGES = 40;

const EDITS = {
  add: (n) => `Added ${plural(n, 'row')}`,
  move: (n) => `Moved ${plural(n, 'row')}`,
  remove: (n) => `Removed ${plural(n, 'row')} with everything under ${n === 1 ? 'it' : 'them'}`,
  copy: (n) => `Copied ${plural(n, 'row')}`,
};

const OPS = {
  'forest.changed': (item) => ({
    edit: () => (EDITS[item.edit] || (() => 'Changed rows'))(item.rows ?? 0),
    undo: () => `Undid the change of version ${item.of_version}`,
    redo: () => `Redid what version ${item.of_version} undid`,
    restore: () => `Restored the rows of version ${item.of_version}`,
  }[item.action] || (() => 'Changed rows'))(),
  'forest.replaced': () => 'Replaced all rows',
  'structure.created': () => 'Created the structure',
  'structure.updated': () => 'Renamed or described the structure',
  'rules.set': () => 'Changed permissions',
  'generator.set': () => 'Added or changed a generator',
  'generator.deleted': () => 'Removed a generator',
  'view.set': () => 'Saved a view',
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
        h('strong', {}, (OPS[item.op] || (() => item.op))(item)),
        h('p', { class: 'muted' }, `${when(item.at)} · ${item.actor === me ? 'you' : (item.actor_name || item.actor)}`,
          item.version ? ` · version ${item.version}` : '')),
      canRestore && item.version && item.version !== latest
        ? h('button', { type: 'button', onclick: () => restore(item) }, 'Restore this version') : null)));
  };

  const restore = async (item) => {
    const sure = await confirmDialog({
      title: 'Restore an earlier version',
      message: `Make the rows what they were at version ${item.version} (${when(item.at)})? `
        + 'Generators, views and permissions stay as they are. The restore is a change like any other: you can undo it.',
      confirm: 'Restore',
    });
    if (!sure) return;
    try {
      const result = await post(`/structures/${structure.id}/restore`, { version: item.version });
      dialog.close();
      restored(result, item.version);
    } catch (problem) {
      error.textContent = problem.detail;
      error.hidden = false;
    }
  };

  const dialog = openDialog({ title: `History of “${structure.name}”`, wide: true, body: [error, list] });
  load();
}
