// Columns and views: titles for column configurations, the Jira field list for pickers, and the columns
// dialog (add, remove, reorder; totals, progress and formula columns, which are named and edited in place;
// save a view, or a copy of one's own).

import { get } from './api.js';
import { h } from './dom.js';
import { field, openDialog } from './dialog.js';
import { checkAsYouType } from './check.js';

const FUNCTIONS = { sum: 'Sum', min: 'Min', max: 'Max', avg: 'Average', count: 'Count', distinct: 'Distinct' };
const SCOPES = { all: 'the row and everything below', children: 'the rows directly below', leaves: 'the leaves below' };
const BASES = { story_points: 'story points', time_tracking: 'time tracking', resolution: 'resolution' };

let fieldList = null;

/**
 * `[{id, name, kind, variables?}]` of the site's Jira fields, as Jira lists them to the signed-in person;
 * `variables` are the formula names that read a field (`story_points`).
 */
export async function loadFields() {
  fieldList ??= await get('/jira/fields');
  return fieldList;
}

/** The field a column names by id or by formula variable (`story_points`), once the list is loaded. */
function fieldOf(id) {
  const variable = id.toLowerCase();
  return fieldList?.find((f) => f.id === id) ?? fieldList?.find((f) => f.variables?.includes(variable));
}

/**
 * A field's name as Jira calls it once the list is loaded (the board loads it before showing columns), else
 * the id or variable in words.
 */
function fieldName(id) {
  return fieldOf(id)?.name ?? id.replaceAll('_', ' ');
}

/**
 * What a column stores for a field typed or chosen in a picker: the id of the field with that name (any
 * case), or the id or formula variable as typed.
 */
function typedField(text) {
  const typed = text.trim();
  if (!typed || fieldOf(typed)) return typed;
  const lower = typed.toLowerCase();
  return fieldList?.find((f) => f.name.toLowerCase() === lower)?.id ?? typed;
}

/** A column's heading, made from its configuration. */
export function columnTitle(column) {
  switch (column.kind) {
    case 'field': return fieldName(column.field);
    case 'totals': return `${FUNCTIONS[column.function]} of ${fieldName(column.field)}`;
    case 'progress': return `Progress (${BASES[column.basis]})`;
    default:
      if (column.name) return column.name;
      return column.formula.length > 40 ? `${column.formula.slice(0, 39)}…` : column.formula;
  }
}

/** A formula column's configuration; a name only when one was typed. */
function formulaColumn(formula, name) {
  const column = { kind: 'formula', formula: formula.trim() };
  if (name.trim()) column.name = name.trim();
  return column;
}

/** A stable name for a column configuration (for remembering its width). */
export const columnId = (column) => JSON.stringify(column);

/** The summary is shown in the tree column, so a summary field column is not shown again. */
export const isShown = (column) => !(column.kind === 'field' && column.field === 'summary');

/** Who owns a view, as the reader reads it: "you", the owner's name, or an honest "someone". */
export function viewOwner(view, me) {
  if (view.owner === me) return 'you';
  return view.owner_name || 'someone Jira does not name to you';
}

/**
 * Why the reader may not change a view they see (a shared view of someone else's, without Control), or null.
 */
export function whyNotYours(view, me) {
  if (!view || view.can_change) return null;
  const owner = viewOwner(view, me);
  return `“${view.name}” is shared by ${owner}: only ${owner} or someone with Control on this structure can change `
    + 'or delete it. Save your own copy with “Save as my view”.';
}

/**
 * The columns dialog. `columns`: the configurations being shown; `view`: the saved view shown (or null); `me`:
 * the reader's account id; `canShare`: Edit level (sharing a view needs it). Callbacks: `apply(columns)`,
 * `save(view, columns, name, shared)` (PUT, offered when the view is the reader's to change),
 * `saveAs(name, columns, shared)` (POST: a view of the reader's own, which anyone may save), `remove(view)`
 * (DELETE); each may throw a problem, which the dialog shows.
 */
export async function openColumns({ columns, view, me, canShare, apply, save, saveAs, remove }) {
  const fields = await loadFields();
  let edited = columns.map((c) => ({ ...c }));
  const list = h('ol', { class: 'column-list' });
  const fieldOptions = h('datalist', { id: 'field-options' },
    fields.map((f) => h('option', { value: f.name }, f.id)));

  const renderList = () => {
    list.replaceChildren(...edited.map((column, index) => h('li', {},
      h('span', { class: 'column-list-title' }, columnTitle(column),
        isShown(column) ? null : h('span', { class: 'muted' }, ' (shown in the tree column)')),
      column.kind === 'formula'
        ? h('button', { type: 'button', 'aria-label': `Edit ${columnTitle(column)}`, onclick: (event) => editFormula(event.target.closest('li'), index) }, 'Edit')
        : null,
      h('button', { type: 'button', disabled: index === 0, 'aria-label': `Move ${columnTitle(column)} up`, onclick: () => move(index, -1) }, '↑'),
      h('button', { type: 'button', disabled: index === edited.length - 1, 'aria-label': `Move ${columnTitle(column)} down`, onclick: () => move(index, 1) }, '↓'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${columnTitle(column)}`, onclick: () => { edited.splice(index, 1); renderList(); } }, 'Remove'))));
    if (!edited.length) list.append(h('li', { class: 'muted' }, 'No columns: only the tree column is shown.'));
  };
  /** Edits a formula column in its place in the list: its name and formula, checked as they are typed. */
  const editFormula = (item, index) => {
    const column = edited[index];
    const nameInput = h('input', { value: column.name ?? '', maxlength: 200, placeholder: 'The formula heads the column', autocomplete: 'off' });
    const source = h('textarea', { rows: 3, class: 'code', spellcheck: 'false' });
    source.value = column.formula;
    const error = h('p', { class: 'error-text', role: 'alert' });
    const done = () => {
      if (!source.value.trim()) {
        error.textContent = 'Type the formula first.';
        source.focus();
        return;
      }
      edited[index] = formulaColumn(source.value, nameInput.value);
      renderList();
    };
    item.replaceChildren(h('div', { class: 'column-edit' },
      field('Column name', nameInput), field('Formula', source), checkAsYouType(source, 'formula'), error,
      h('div', { class: 'column-edit-actions' },
        h('button', { type: 'button', class: 'primary', onclick: done }, 'Done'),
        h('button', { type: 'button', onclick: renderList }, 'Cancel'))));
    // Enter in the name finishes this column rather than applying the whole dialog.
    nameInput.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      done();
    });
    nameInput.focus();
  };
  const move = (index, by) => {
    const [column] = edited.splice(index, 1);
    edited.splice(index + by, 0, column);
    renderList();
  };

  // Adding a column: its kind decides which settings are asked for.
  const kind = h('select', {}, h('option', { value: 'field' }, 'Jira field'), h('option', { value: 'totals' }, 'Total over the subtree'),
    h('option', { value: 'progress' }, 'Progress'), h('option', { value: 'formula' }, 'Formula'));
  const fieldInput = h('input', { list: 'field-options', placeholder: 'Status, Assignee, …', autocomplete: 'off' });
  const totalFunction = h('select', {}, Object.entries(FUNCTIONS).map(([v, t]) => h('option', { value: v }, t)));
  const totalField = h('input', { list: 'field-options', placeholder: 'Story point estimate, Time Spent, …', autocomplete: 'off' });
  const totalScope = h('select', {}, Object.entries(SCOPES).map(([v, t]) => h('option', { value: v }, t)));
  const duplicates = h('input', { type: 'checkbox' });
  const basis = h('select', {}, Object.entries(BASES).map(([v, t]) => h('option', { value: v }, t)));
  const formula = h('textarea', { rows: 3, class: 'code', spellcheck: 'false', placeholder: 'IF(status = "Done", 1, 0)' });
  const formulaName = h('input', { maxlength: 200, placeholder: 'The formula heads the column', autocomplete: 'off' });
  const settings = {
    field: h('div', {}, field('Field', fieldInput)),
    totals: h('div', { class: 'field-row' }, field('Function', totalFunction), field('Field or formula variable', totalField),
      field('Over', totalScope), h('label', { class: 'check-field' }, duplicates, ' Count an issue placed twice twice')),
    progress: h('div', {}, field('Measured by', basis)),
    formula: h('div', {}, field('Name (optional)', formulaName), field('Formula', formula), checkAsYouType(formula, 'formula')),
  };
  const showSettings = () => {
    for (const [name, element] of Object.entries(settings)) element.hidden = name !== kind.value;
  };
  kind.addEventListener('change', showSettings);
  showSettings();
  const addError = h('p', { class: 'error-text', role: 'alert' });
  const add = () => {
    const made = {
      field: () => fieldInput.value.trim() && { kind: 'field', field: typedField(fieldInput.value) },
      totals: () => totalField.value.trim() && {
        kind: 'totals', function: totalFunction.value, field: typedField(totalField.value), scope: totalScope.value,
        with_duplicates: duplicates.checked,
      },
      progress: () => ({ kind: 'progress', basis: basis.value }),
      formula: () => formula.value.trim() && formulaColumn(formula.value, formulaName.value),
    }[kind.value]();
    addError.textContent = made ? '' : 'Fill in the column’s settings first.';
    if (!made) return;
    edited.push(made);
    renderList();
  };

  const mine = Boolean(view && view.can_change);
  const name = h('input', { value: view ? (mine ? view.name : `${view.name} (mine)`) : '', maxlength: 200, placeholder: 'e.g. Planning', autocomplete: 'off' });
  const shared = h('input', { type: 'checkbox', checked: mine && view.shared });
  renderList();
  // Left out when it cannot be chosen: a changed view then stays as shared as it was, a new one is personal.
  const sharing = () => (canShare ? shared.checked : undefined);
  const actions = [{ label: 'Apply', primary: true, onClick: () => apply(edited) }];
  if (mine) actions.push({ label: 'Save view', onClick: () => save(view, edited, name.value, sharing()) });
  actions.push({ label: 'Save as my view', onClick: () => saveAs(name.value, edited, sharing() ?? false) });
  if (mine) actions.push({ label: 'Delete view', danger: true, onClick: () => remove(view) });
  const notYours = whyNotYours(view, me);
  openDialog({
    title: view ? `Columns of “${view.name}”` : 'Columns',
    wide: true,
    body: [
      fieldOptions,
      h('h3', {}, 'Shown'), list,
      h('h3', {}, 'Add a column'),
      field('Kind', kind), ...Object.values(settings),
      h('button', { type: 'button', onclick: add }, 'Add column'), addError,
      h('h3', {}, 'View'),
      notYours ? h('p', { class: 'view-note' }, notYours) : null,
      field('View name (to save)', name),
      canShare ? h('label', { class: 'check-field' }, shared, ' Shared with everyone who can see this structure') : null,
      h('p', { class: 'muted' }, 'Drag a column heading to reorder it, or its right edge to resize it.'),
    ],
    actions,
  });
}
