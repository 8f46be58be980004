// Columns and views: titles for column configurations, the Jira field list for pickers, and the columns
// dialog (add, remove, reorder; totals, progress and formula columns, which are named and edited in place;
// save as a view).

import { get } from './api.js';
import { h } from './dom.js';
import { field, openDialog } from './dialog.js';
import { checkAsYouType } from './check.js';

const FUNCTIONS = { sum: 'Sum', min: 'Min', max: 'Max', avg: 'Average', count: 'Count', distinct: 'Distinct' };
const SCOPES = { all: 'the row and everything below', children: 'the rows directly below', leaves: 'the leaves below' };
const BASES = { story_points: 'story points', time_tracking: 'time tracking', resolution: 'resolution' };

let fieldList = null;

/** `[{id, name, kind}]` of the site's Jira fields, as Jira lists them to the signed-in person. */
export async function loadFields() {
  fieldList ??= await get('/jira/fields');
  return fieldList;
}

/** A field's name once the list is loaded (the board loads it before showing columns), else its id. */
function fieldName(id) {
  return fieldList?.find((f) => f.id === id)?.name ?? id;
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

/**
 * The columns dialog. `columns`: the configurations being shown; `view`: the saved view shown (or null);
 * `canSave`: Edit level. Callbacks: `apply(columns)`, `save(view, columns, name)` (PUT), `saveAs(name, columns)`
 * (POST), `remove(view)` (DELETE); each may throw a problem, which the dialog shows.
 */
export async function openColumns({ columns, view, canSave, apply, save, saveAs, remove }) {
  const fields = await loadFields();
  let edited = columns.map((c) => ({ ...c }));
  const list = h('ol', { class: 'column-list' });
  const fieldOptions = h('datalist', { id: 'field-options' },
    fields.map((f) => h('option', { value: f.id }, f.name)));

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
  const fieldInput = h('input', { list: 'field-options', placeholder: 'status, customfield_10016, …', autocomplete: 'off' });
  const totalFunction = h('select', {}, Object.entries(FUNCTIONS).map(([v, t]) => h('option', { value: v }, t)));
  const totalField = h('input', { list: 'field-options', placeholder: 'story_points, timespent, …', autocomplete: 'off' });
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
      field: () => fieldInput.value.trim() && { kind: 'field', field: fieldInput.value.trim() },
      totals: () => totalField.value.trim() && {
        kind: 'totals', function: totalFunction.value, field: totalField.value.trim(), scope: totalScope.value,
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

  const name = h('input', { value: view ? view.name : '', maxlength: 200, placeholder: 'e.g. Planning', autocomplete: 'off' });
  renderList();
  const actions = [{ label: 'Apply', primary: true, onClick: () => apply(edited) }];
  if (canSave && view) actions.push({ label: `Save view`, onClick: () => save(view, edited, name.value) });
  if (canSave) actions.push({ label: 'Save as new view', onClick: () => saveAs(name.value, edited) });
  if (canSave && view) actions.push({ label: 'Delete view', danger: true, onClick: () => remove(view) });
  openDialog({
    title: view ? `Columns of “${view.name}”` : 'Columns',
    wide: true,
    body: [
      fieldOptions,
      h('h3', {}, 'Shown'), list,
      h('h3', {}, 'Add a column'),
      field('Kind', kind), ...Object.values(settings),
      h('button', { type: 'button', onclick: add }, 'Add column'), addError,
      canSave ? h('h3', {}, 'View') : null,
      canSave ? field('View name (to save)', name) : null,
      h('p', { class: 'muted' }, 'Drag a column heading to reorder it, or its right edge to resize it.'),
    ],
    actions,
  });
}
