// The structure list: yours and those shared with you, filtered as you type; create, rename, delete.

import { del, get, patch, post } from './api.js';
import { h, plural, when } from './dom.js';
import { confirmDialog, field, openDialog } from './dialog.js';
import { announce, showProblem } from './notices.js';

const LEVEL_NAMES = { view: 'View', edit: 'Edit', automate: 'Automate', control: 'Control' };

export function showList(main) {
  let structures = [];
  const search = h('input', {
    type: 'search', placeholder: 'Filter by name or description', 'aria-label': 'Filter structures',
    oninput: () => render(),
  });
  const results = h('div', { class: 'structure-lists', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  main.replaceChildren(h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('h1', {}, 'Structures'),
      search,
      h('button', { type: 'button', class: 'primary', onclick: () => createStructure() }, 'Create structure')),
    results));

  async function load() {
    try {
      structures = await get('/structures');
      render();
    } catch (problem) {
      results.replaceChildren(h('p', { class: 'error-text' }, problem.detail),
        h('button', { type: 'button', onclick: load }, 'Try again'));
    }
  }

  function render() {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const matches = structures.filter((s) => {
      const text = `${s.name} ${s.description}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
    const mine = matches.filter((s) => !s.shared_with_me);
    const shared = matches.filter((s) => s.shared_with_me);
    if (!structures.length) {
      results.replaceChildren(h('div', { class: 'empty-state' },
        h('p', {}, 'You have no structures yet, and none is shared with you.'),
        h('button', { type: 'button', class: 'primary', onclick: () => createStructure() }, 'Create your first structure')));
      return;
    }
    results.replaceChildren(
      section('Your structures', mine, words.length ? 'None of yours matches.' : 'You own no structure yet.'),
      section('Shared with me', shared, words.length ? 'Nothing shared with you matches.' : 'Nothing is shared with you yet.'),
      h('p', { class: 'muted' }, words.length ? `${plural(matches.length, 'structure')} of ${structures.length} match.` : ''));
  }

  function section(title, list, none) {
    return h('section', { class: 'structure-section' },
      h('h2', {}, title, ' ', h('span', { class: 'count' }, list.length)),
      list.length ? h('ul', { class: 'structure-list' }, list.map(item)) : h('p', { class: 'muted' }, none));
  }

  function item(structure) {
    const control = structure.level === 'control';
    return h('li', { class: 'structure-item' },
      h('div', { class: 'structure-main' },
        h('a', { class: 'structure-name', href: `#/s/${structure.id}` }, structure.name),
        structure.description ? h('p', { class: 'structure-description' }, structure.description) : null,
        h('p', { class: 'structure-meta' },
          // The owner as Jira names them to you; never a raw account id.
          structure.shared_with_me ? `Owner ${structure.owner_name || 'someone Jira does not name to you'} · ` : '',
          `Updated ${when(structure.updated_at)} · `,
          h('span', { class: 'level-badge', title: 'Your level on this structure' }, LEVEL_NAMES[structure.level] || structure.level))),
      control ? h('div', { class: 'structure-actions' },
        h('button', { type: 'button', onclick: () => rename(structure) }, 'Rename'),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(structure) }, 'Delete')) : null);
  }

  function createStructure() {
    const name = h('input', { required: true, maxlength: 200, autocomplete: 'off' });
    const description = h('textarea', { rows: 3, maxlength: 10000 });
    openDialog({
      title: 'Create structure',
      body: [field('Name', name), field('Description (optional)', description)],
      actions: [{
        label: 'Create', primary: true,
        onClick: async () => {
          const created = await post('/structures', { name: name.value, description: description.value });
          location.hash = `#/s/${created.id}`;
        },
      }],
    });
    name.focus();
  }

  function rename(structure) {
    const name = h('input', { required: true, maxlength: 200, value: structure.name, autocomplete: 'off' });
    const description = h('textarea', { rows: 3, maxlength: 10000, value: structure.description });
    openDialog({
      title: 'Rename structure',
      body: [field('Name', name), field('Description', description)],
      actions: [{
        label: 'Save', primary: true,
        onClick: async () => {
          await patch(`/structures/${structure.id}`,
            { name: name.value, description: description.value, based_on: structure.version });
          announce('Renamed.');
          load();
        },
      }],
    });
    name.select();
  }

  async function remove(structure) {
    const sure = await confirmDialog({
      title: 'Delete structure',
      message: `Delete “${structure.name}” for everyone it is shared with? Its rows, generators, views and history go with it; this cannot be undone.`,
      confirm: 'Delete', danger: true,
    });
    if (!sure) return;
    try {
      await del(`/structures/${structure.id}`);
      announce(`Deleted “${structure.name}”.`);
    } catch (problem) {
      showProblem(problem, { title: 'Could not delete.' });
    }
    load();
  }

  load();
  search.focus();
  return { leave() {} };
}
