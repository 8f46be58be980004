// The generators dialog: every generator of the structure with what its last run cost, and a form for each
// kind (insert, extend, filter, group, sort). Changing generators needs the Automate level; below it, the server
// sends a generator's kind and what it does in words, without its settings (queries may name hidden issues).

import { del, get, post, put } from './api.js';
import { h, plural } from './dom.js';
import { confirmDialog, field, openDialog } from './dialog.js';
import { checkAsYouType } from './check.js';
import { columnTitle, loadFields } from './columns.js';

/** Every kind of generator: its phase, what it does, and the settings it asks for (in order). */
const KINDS = {
  insert_jql: { phase: 'Insert', label: 'Issues from a JQL query', settings: ['jql'] },
  insert_keys: { phase: 'Insert', label: 'Issues by key', settings: ['keys'] },
  insert_text: { phase: 'Insert', label: 'Issues found by a text search', settings: ['text'] },
  insert_structure: { phase: 'Insert', label: 'The issues of another structure', settings: ['structure_id'] },
  extend_links: { phase: 'Extend', label: 'Linked issues', settings: ['link_type_id', 'direction', 'levels'] },
  extend_subtasks: { phase: 'Extend', label: 'Sub-tasks', settings: ['levels'] },
  extend_children: { phase: 'Extend', label: 'Children (epic → stories → sub-tasks)', settings: ['levels'] },
  filter_jql: { phase: 'Filter', label: 'Keep issues that match a JQL query', settings: ['jql'] },
  filter_text: { phase: 'Filter', label: 'Keep issues that match a text', settings: ['text'] },
  filter_formula: { phase: 'Filter', label: 'Keep issues for which a formula is true', settings: ['formula'] },
  remove_duplicates: { phase: 'Filter', label: 'Remove duplicates (keep the first row of each issue)', settings: [] },
  group_by_field: { phase: 'Group', label: 'Group by a field', settings: ['field'] },
  sort_by_field: { phase: 'Sort', label: 'Sort by a field', settings: ['field', 'descending'] },
  sort_by_rank: { phase: 'Sort', label: 'Sort by Jira rank', settings: ['descending'] },
  sort_by_formula: { phase: 'Sort', label: 'Sort by a formula', settings: ['formula', 'descending'] },
};

const MAX_LEVELS = 50;

/** Per phase: why a generator's rows are where they are, and what would have to change to place them elsewhere. */
const PLACING = {
  Insert: 'places what it finds where it stands: change its settings, or add the issue as a row of your own (Add…) and place that',
  Extend: 'places each issue under the row it belongs to in Jira: change the issue in Jira, or the generator’s settings',
  Group: 'makes a row per value of its field: change the issues’ field in Jira, or the generator',
};

/**
 * Who made a generated row and what would have to change to move it: `{name, change}` for a generator as the
 * generators list gives it (null when it is not known).
 */
export function generatorOwns(generator) {
  const kind = generator && KINDS[generator.kind];
  if (!kind) return { name: 'a generator', change: 'only changing the generator (Generators…) changes where its rows go' };
  return {
    name: `the generator “${kind.label}”`,
    change: `it ${PLACING[kind.phase] ?? 'decides where its rows go: change it'} (Generators…)`,
  };
}

/** One line saying what a generator's settings are (Automate level: the server sends them). */
function describe(config, structures) {
  const levels = config.levels ? `levels ${config.levels.from}–${config.levels.to}` : '';
  switch (config.kind) {
    case 'insert_jql':
    case 'filter_jql': return config.jql;
    case 'insert_keys': return config.keys.join(', ');
    case 'insert_text':
    case 'filter_text': return `“${config.text}”`;
    case 'insert_structure': {
      const other = structures.find((s) => s.id === config.structure_id);
      return other ? other.name : `structure ${config.structure_id} (not visible to you)`;
    }
    case 'extend_links': return `link type ${config.link_type_id}, ${config.direction}, ${levels}`;
    case 'extend_subtasks':
    case 'extend_children': return levels;
    case 'filter_formula': return config.formula;
    case 'group_by_field': return columnTitle({ kind: 'field', field: config.field });
    case 'sort_by_field': return `${columnTitle({ kind: 'field', field: config.field })}, ${config.descending ? 'descending' : 'ascending'}`;
    case 'sort_by_rank': return config.descending ? 'descending' : 'ascending';
    case 'sort_by_formula': return `${config.formula}, ${config.descending ? 'descending' : 'ascending'}`;
    default: return '';
  }
}

/**
 * Opens the dialog. `structure`: the structure's summary; `canChange`: Automate level; `version()`: the
 * version edits are based on; `lastRun()`: resolves to a window (its `generators` costs and `stopped_at`);
 * `focusedRow`: a stored row new generators may be placed under; `changed()`: called after every change.
 */
export async function openGenerators({ structure, canChange, version, lastRun, focusedRow, changed }) {
  const list = h('div', { class: 'generator-list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  let structures = [];

  const refresh = async () => {
    try {
      const [generators, all, run] = await Promise.all([get(`/structures/${structure.id}/generators`), get('/structures'), lastRun()]);
      structures = all.filter((s) => s.id !== structure.id);
      render(generators, run);
    } catch (problem) {
      list.replaceChildren(h('p', { class: 'error-text' }, problem.detail));
    }
  };

  const render = (generators, { generators: runs, stopped_at: stoppedAt }) => {
    if (!generators.length) {
      list.replaceChildren(h('p', { class: 'muted' },
        'No generators. Generators fill the structure from Jira (insert, extend) and shape it (filter, group, sort); they run in that order.'));
      return;
    }
    list.replaceChildren(h('ul', {}, generators.map((generator) => {
      const kind = KINDS[generator.kind] || { phase: '', label: generator.kind };
      const run = runs.find((r) => r.id === generator.id);
      return h('li', { class: 'generator' },
        h('div', {},
          h('span', { class: `phase phase-${kind.phase.toLowerCase()}` }, kind.phase),
          h('strong', {}, kind.label),
          generator.config
            ? h('p', { class: 'generator-config code' }, describe(generator.config, structures))
            : h('p', { class: 'generator-config' }, generator.description),
          h('p', { class: 'muted' }, generator.row == null
            ? 'Not in the structure: its row was taken away (by a restore or an edit). Its settings are kept, so undoing that brings it back.'
            : run
              ? `Last run: ${run.elapsed_ms.toFixed(1)} ms, ${plural(run.rows_added, 'row')} added, ${run.rows_removed.toLocaleString()} removed`
              : 'Did not run in the last computation'),
          stoppedAt === generator.id ? h('p', { class: 'error-text' }, 'The time budget ran out while this generator ran: the result is partial.') : null),
        canChange && generator.config ? h('div', { class: 'generator-actions' },
          h('button', { type: 'button', onclick: () => openForm(generator) }, 'Edit'),
          h('button', { type: 'button', class: 'danger', onclick: () => remove(generator, kind) }, 'Remove')) : null);
    })));
  };

  const remove = async (generator, kind) => {
    const sure = await confirmDialog({
      title: 'Remove generator', confirm: 'Remove', danger: true,
      message: `Remove “${kind.label}”? The rows it makes disappear with it.`,
    });
    if (!sure) return;
    try {
      await del(`/structures/${structure.id}/generators/${generator.id}`);
      await changed();
    } catch (problem) {
      list.prepend(h('p', { class: 'error-text', role: 'alert' }, problem.detail));
    }
    refresh();
  };

  const openForm = (existing) => generatorForm({
    existing, structures, focusedRow,
    save: async (config, at) => {
      if (existing) {
        await put(`/structures/${structure.id}/generators/${existing.id}`, { config, based_on: version() });
      } else {
        await post(`/structures/${structure.id}/generators`, { config, at, based_on: version() });
      }
      await changed();
      refresh();
    },
  });

  openDialog({
    title: 'Generators',
    wide: true,
    body: [
      h('p', { class: 'muted' }, canChange
        ? 'A generator works on the rows of its scope: the whole structure, or the row it is placed under.'
        : 'You can see the generators; changing them needs the Automate level.'),
      list,
      canChange ? h('button', { type: 'button', class: 'primary', onclick: () => openForm(null) }, 'Add generator') : null,
    ],
  });
  refresh();
}

/** The form for one generator: a kind, then that kind's settings. */
async function generatorForm({ existing, structures, focusedRow, save }) {
  const fields = await loadFields();
  const config = existing ? existing.config : { kind: 'insert_jql' };
  const kind = h('select', { disabled: Boolean(existing) },
    ['Insert', 'Extend', 'Filter', 'Group', 'Sort'].map((phase) => h('optgroup', { label: phase },
      Object.entries(KINDS).filter(([, k]) => k.phase === phase).map(([value, k]) => h('option', { value }, k.label)))));
  kind.value = config.kind;

  const inputs = settingInputs(config, structures, fields);
  const settingsBox = h('div', {});
  const showSettings = () => {
    settingsBox.replaceChildren(...KINDS[kind.value].settings.map((name) => inputs[name].element));
  };
  kind.addEventListener('change', showSettings);
  showSettings();

  const placement = h('select', {},
    h('option', { value: 'top' }, 'The whole structure'),
    focusedRow ? h('option', { value: 'under' }, `The rows under “${focusedRow.issue_key || focusedRow.title}”`) : null);

  openDialog({
    title: existing ? 'Edit generator' : 'Add generator',
    wide: true,
    body: [
      // Fields are offered by name (with the id beside it); the server stores the id the name resolves to.
      h('datalist', { id: 'generator-field-options' }, fields.map((f) => h('option', { value: f.name }, f.id))),
      field('What it does', kind),
      settingsBox,
      existing ? null : field('Works on', placement),
    ],
    actions: [{
      label: existing ? 'Save' : 'Add',
      primary: true,
      onClick: async () => {
        const made = { kind: kind.value };
        for (const name of KINDS[kind.value].settings) made[name] = inputs[name].read();
        const at = placement.value === 'under'
          ? { under: { parent: focusedRow.row, at: 'last' } }
          : { under: { parent: null, at: 'last' } };
        await save(made, at);
      },
    }],
  });
}

/** One input per setting, filled from `config`: `{element, read()}`. */
function settingInputs(config, structures, fields) {
  const code = (kindOfText, value, placeholder) => {
    const input = h('textarea', { rows: 3, class: 'code', spellcheck: 'false', value: value ?? '', placeholder });
    return { input, check: checkAsYouType(input, kindOfText) };
  };
  const jql = code('jql', config.jql, 'project = ABC AND issuetype = Epic ORDER BY rank');
  const formula = code('formula', config.formula, 'story_points > 3');
  const text = h('input', { value: config.text ?? '', autocomplete: 'off' });
  const keys = h('textarea', { rows: 3, class: 'code', value: (config.keys ?? []).join(' '), placeholder: 'ABC-1 ABC-2 ABC-3' });
  const structure = h('select', {}, structures.map((s) => h('option', { value: s.id }, s.name)));
  if (config.structure_id !== undefined) structure.value = String(config.structure_id);
  const linkType = h('input', { value: config.link_type_id ?? '', autocomplete: 'off', inputmode: 'numeric' });
  const direction = h('select', {},
    h('option', { value: 'outward' }, 'Outward: issues this issue points to (it blocks them)'),
    h('option', { value: 'inward' }, 'Inward: issues pointing to this issue (they block it)'));
  direction.value = config.direction ?? 'outward';
  const from = h('input', { type: 'number', min: 1, max: MAX_LEVELS, value: config.levels?.from ?? 1 });
  const to = h('input', { type: 'number', min: 1, max: MAX_LEVELS, value: config.levels?.to ?? 10 });
  const fieldName = (id) => fields.find((f) => f.id === id)?.name ?? id;
  const fieldInput = h('input', { list: 'generator-field-options', value: config.field ? fieldName(config.field) : '', autocomplete: 'off', placeholder: 'Status, Priority, …' });
  const descending = h('input', { type: 'checkbox', checked: Boolean(config.descending) });
  return {
    jql: { element: h('div', {}, field('JQL', jql.input), jql.check), read: () => jql.input.value },
    formula: { element: h('div', {}, field('Formula', formula.input), formula.check), read: () => formula.input.value },
    text: { element: field('Text', text), read: () => text.value },
    keys: {
      element: field('Issue keys', keys, 'Separated by spaces, commas or new lines, in the order to insert them.'),
      read: () => keys.value.split(/[\s,]+/).filter(Boolean),
    },
    structure_id: {
      element: structures.length ? field('Structure', structure) : h('p', { class: 'muted' }, 'You can see no other structure.'),
      read: () => Number(structure.value),
    },
    link_type_id: {
      element: field('Link type id', linkType, 'The id of the Jira issue link type (Jira’s link type settings show it).'),
      read: () => linkType.value.trim(),
    },
    direction: { element: field('Direction', direction), read: () => direction.value },
    levels: {
      element: h('div', { class: 'field-row' }, field('From level', from), field('To level', to),
        h('span', { class: 'field-hint' }, `Level 1 is the scope’s top rows; at most ${MAX_LEVELS}.`)),
      read: () => ({ from: Number(from.value), to: Number(to.value) }),
    },
    field: { element: field('Field', fieldInput, 'A Jira field, by its name as Jira shows it (or its id).'), read: () => fieldInput.value.trim() },
    descending: { element: h('label', { class: 'check-field' }, descending, ' Descending'), read: () => descending.checked },
  };
}
