// The board: one structure as a tree grid, with its toolbar (editing, expansion, views, configuration
// dialogs, export) and status bar (row counts, hidden issues, freshness). Holds what the windows are asked
// for (expansion, columns) and turns the grid's gestures into edits.

import { get, post, put, del } from './api.js';
import { ago, fill, h, plural } from './dom.js';
import { confirmDialog, field, openDialog } from './dialog.js';
import { announce, showProblem } from './notices.js';
import { TreeGrid, isManual } from './grid.js';
import { columnId, columnTitle, isShown, loadFields, openColumns, viewOwner, whyNotYours } from './columns.js';
import { generatorOwns, openGenerators } from './generators.js';
import { openPermissions } from './permissions.js';
import { openHistory } from './history.js';

const LEVELS = ['view', 'edit', 'automate', 'control'];
const allows = (level, needed) => LEVELS.indexOf(level) >= LEVELS.indexOf(needed);

/** Columns shown when no saved view is chosen (the summary is in the tree column). */
const DEFAULT_COLUMNS = ['status', 'assignee', 'issuetype', 'priority'].map((f) => ({ kind: 'field', field: f }));
const TREE_COLUMN = { id: 'tree', title: 'Issue', width: 440 };
const DEFAULT_WIDTH = 140;
const EXPAND_ALL = 1000;
const SUBTREE_PAGE = 2000;
const SUBTREE_MAX_ROWS = 20000;
const SLOW_MS = 3000;

const WIDTHS_KEY = 'arbor.columnWidths';

function savedWidths() {
  try {
    return JSON.parse(localStorage.getItem(WIDTHS_KEY)) || {};
  } catch {
    return {};
  }
}

/** Shows structure `id` in `main`; returns `{leave}` to stop it when the page changes. */
export function showBoard(main, session, id) {
  const state = {
    structure: null,
    version: null,
    views: [],
    view: null,
    columns: DEFAULT_COLUMNS,
    unsaved: false,
    expansion: loadExpansion(id),
    window: null,
    receivedAt: 0,
    loadsPending: 0,
    loadingSince: 0,
    clipboard: [],
    focusedOnce: false,
  };
  const canEdit = () => state.structure && allows(state.structure.level, 'edit');

  // ---- Layout ------------------------------------------------------------------------------------------
  const title = h('h1', { class: 'board-title' }, 'Loading…');
  const level = h('span', { class: 'level-badge' });
  const description = h('p', { class: 'board-description' });
  const viewSelect = h('select', { 'aria-label': 'View', onchange: () => chooseView(viewSelect.value) });
  // Showing N levels expands every row above level N (depth N - 1).
  const depthSelect = h('select', { 'aria-label': 'Expand all to level', onchange: () => showLevels(Number(depthSelect.value)) },
    h('option', { value: '' }, 'Expand…'),
    h('option', { value: 1 }, 'Show level 1 only'),
    [2, 3, 4, 5].map((n) => h('option', { value: n }, `Show ${n} levels`)),
    h('option', { value: EXPAND_ALL }, 'Show all levels'));
  const button = (label, onclick, extra = {}) => h('button', { type: 'button', onclick, ...extra }, label);
  const undoButton = button('Undo', () => undo(), { disabled: true });
  const redoButton = button('Redo', () => redo(), { disabled: true });
  const saveViewButton = button('Save view', () => saveCurrentView(), { hidden: true });
  // The toolbar acts on the selected rows only (keys pressed in the grid act on the focused row too): a
  // button with nothing to act on is disabled, and its tooltip says why (updateToolbar).
  const removeButton = button('Remove', () => remove(grid.selectedRows()));
  const indentButton = button('Indent', () => indent(grid.selectedRows()));
  const outdentButton = button('Outdent', () => outdent(grid.selectedRows()));
  const copyButton = button('Copy', () => copy(grid.selectedRows()));
  const pasteButton = button('Paste', () => paste(grid.selectedRows().at(-1)));
  const saveMineButton = button('Save as my view…', () => saveMyView(), { hidden: true, title: 'Save these columns as a view of your own' });
  // Whose the chosen view is, and whether others see it.
  const viewNote = h('span', { class: 'view-note muted' });
  const editGroup = h('div', { class: 'toolbar-group', role: 'group', 'aria-label': 'Edit rows' },
    button('Add…', () => openAdd(), { class: 'primary', title: 'Add issues, folders or memos' }),
    removeButton, indentButton, outdentButton, copyButton, pasteButton,
    undoButton, redoButton);
  const expandButton = button('Expand subtree', () => {
    const row = grid.selectedRows().find((r) => r.has_children);
    if (row) expandSubtree(row, indexOf(row));
  });
  const collapseButton = button('Collapse subtree', () => {
    const row = grid.selectedRows().find((r) => r.has_children);
    if (row) collapseSubtree(row, indexOf(row));
  });
  const exportLink = (format, label) => h('a', { download: '', 'data-format': format }, label);
  const exportLinks = [exportLink('csv', 'CSV (this view)'), exportLink('xlsx', 'Excel (this view)'), exportLink('json', 'JSON (ids and configuration)')];
  // The Export menu closes as menus do: once a download is chosen, on a click elsewhere, and on Escape.
  const exportMenu = h('details', { class: 'menu' }, h('summary', {}, 'Export'), h('div', { class: 'menu-items' }, exportLinks,
    h('p', { class: 'menu-note' }, 'CSV and Excel use the chosen saved view, with every row expanded.')));
  const closeExport = () => { exportMenu.open = false; };
  for (const link of exportLinks) link.addEventListener('click', closeExport);
  exportMenu.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !exportMenu.open) return;
    event.preventDefault();
    closeExport();
    exportMenu.querySelector('summary').focus();
  });
  const closeExportOutside = (event) => {
    if (exportMenu.open && !exportMenu.contains(event.target)) closeExport();
  };
  document.addEventListener('pointerdown', closeExportOutside);
  const permissionsButton = button('Permissions…', () => showPermissions());
  const toolbar = h('div', { class: 'toolbar' },
    editGroup,
    h('div', { class: 'toolbar-group', role: 'group', 'aria-label': 'Expand' },
      depthSelect, expandButton, collapseButton),
    h('div', { class: 'toolbar-group', role: 'group', 'aria-label': 'View' },
      viewSelect, viewNote, button('Columns…', () => showColumns()), saveViewButton, saveMineButton));
  const structureActions = h('div', { class: 'toolbar-group board-actions', role: 'group', 'aria-label': 'Structure' },
    button('Generators…', () => showGenerators()),
    permissionsButton,
    button('History…', () => showHistory()),
    exportMenu,
    button('Keyboard', () => showHelp(), { title: 'Keyboard shortcuts (?)' }));

  const rowCount = h('span', {});
  const hiddenCount = h('span', { class: 'hidden-count', title: 'Jira does not show you these issues, so arbor does not either' });
  const freshness = h('span', {});
  const stale = h('span', { class: 'warning', hidden: true }, 'Jira did not answer: showing earlier data');
  const partial = h('span', { class: 'warning', hidden: true },
    'The generators ran out of time: the result is partial (see Generators…)');
  const loading = h('span', { class: 'muted', hidden: true });
  const refreshButton = button('Refresh now', () => refresh(), { title: 'Read everything from Jira again' });
  const statusBar = h('div', { class: 'status-bar' }, rowCount, hiddenCount, freshness, stale, partial, loading, refreshButton);

  const overlay = h('div', { class: 'grid-overlay', hidden: true });
  const grid = new TreeGrid({
    label: 'Structure',
    load: loadWindow,
    onWindow: receiveWindow,
    onError: windowFailed,
    canEdit,
    onSelect: () => updateToolbar(),
    actions: {
      toggle, expandSubtree, collapseSubtree, indent, outdent, remove, copy, paste, drop,
      resizeColumn, moveColumn, help: showHelp,
    },
  });
  main.replaceChildren(h('section', { class: 'board', onkeydown: onBoardKey },
    h('div', { class: 'board-head' },
      h('a', { href: '#/', class: 'back' }, '← Structures'), title, level, structureActions),
    description, toolbar, statusBar,
    h('div', { class: 'grid-wrap' }, grid.element, overlay)));
  updateToolbar();
  // Every second: how old the data is, and how long a slow load has been waiting.
  const ticker = setInterval(() => {
    showFreshness();
    if (state.loadsPending) showLoading();
  }, 1000);

  // ---- Loading -----------------------------------------------------------------------------------------
  async function start() {
    showOverlay('Loading the structure…');
    try {
      const [structure, views] = await Promise.all([get(`/structures/${id}`), get(`/structures/${id}/views`), loadFields()]);
      state.structure = structure;
      state.views = views;
      // A structure opens with its first saved view, when it has one.
      state.view = views[0] ?? null;
      state.columns = state.view ? state.view.columns : DEFAULT_COLUMNS;
    } catch (problem) {
      if (problem.status === 404) {
        main.replaceChildren(h('section', { class: 'page' }, h('h1', {}, 'No such structure'),
          h('p', {}, problem.detail), h('p', {}, h('a', { href: '#/' }, 'Go to your structures'))));
      } else {
        showOverlay(problem.detail, { error: true, retry: start });
      }
      return;
    }
    showStructure();
    showViews();
    applyColumns();
    grid.reload();
  }

  function showStructure() {
    const structure = state.structure;
    title.textContent = structure.name;
    document.title = `${structure.name} · arbor`;
    grid.element.setAttribute('aria-label', structure.name);
    grid.element.setAttribute('aria-readonly', String(!canEdit()));
    description.textContent = structure.description;
    description.hidden = !structure.description;
    level.textContent = structure.level[0].toUpperCase() + structure.level.slice(1);
    level.title = 'Your level on this structure';
    editGroup.hidden = !canEdit();
    showUndoRedo(structure);
    permissionsButton.hidden = !allows(structure.level, 'control');
  }

  function windowBody(offset, limit) {
    const body = {
      expand: { depth: state.expansion.depth, open: [...state.expansion.open], closed: [...state.expansion.closed] },
      offset,
      limit,
    };
    if (state.view && !state.unsaved) body.view = state.view.id;
    else body.columns = state.columns;
    return body;
  }

  async function loadWindow(offset, limit) {
    state.loadsPending += 1;
    if (state.loadsPending === 1) state.loadingSince = Date.now();
    showLoading();
    try {
      return await post(`/structures/${id}/rows`, windowBody(offset, limit), { reads: true });
    } finally {
      state.loadsPending -= 1;
      showLoading();
    }
  }

  function showLoading() {
    const waited = Date.now() - state.loadingSince;
    loading.hidden = state.loadsPending === 0;
    loading.textContent = waited > SLOW_MS ? `Jira is slow: waiting ${Math.round(waited / 1000)} s…` : 'Loading…';
    if (state.loadsPending && !state.window) {
      showOverlay(waited > SLOW_MS ? `Reading from Jira takes a while (${Math.round(waited / 1000)} s so far)…` : 'Loading rows…');
    }
  }

  function receiveWindow(window) {
    state.window = window;
    state.version = window.version;
    state.receivedAt = Date.now();
    const { total, visible_rows: visible, hidden } = window;
    rowCount.textContent = total === visible ? plural(total, 'row') : `${plural(total, 'row')} shown of ${visible.toLocaleString()}`;
    if (window.loading) rowCount.textContent = `Up to ${plural(total, 'row')}, reading issues…`;
    hiddenCount.textContent = hidden ? `${plural(hidden, 'issue')} hidden` : '';
    hiddenCount.hidden = !hidden;
    stale.hidden = !window.freshness.stale;
    partial.hidden = window.stopped_at == null;
    showFreshness();
    if (total === 0) showEmpty(hidden);
    else hideOverlay();
    // Once the structure has opened, the keyboard starts in the grid (on its first row) rather than at the top
    // of the page — unless the person has already gone somewhere.
    if (!state.focusedOnce && window.rows.length) {
      state.focusedOnce = true;
      const at = document.activeElement;
      if (!at || at === document.body || at === main) grid.focusRow(grid.focusIndex);
    }
  }

  function showFreshness() {
    const f = state.window?.freshness;
    if (!f) return;
    const since = Date.now() - state.receivedAt;
    freshness.textContent = f.data_age_ms === null || f.data_age_ms === undefined
      ? 'No Jira data needed'
      : `Data from ${ago(f.data_age_ms + f.computed_ms_ago + since)}`;
    freshness.title = `Computed ${ago(f.computed_ms_ago + since)} with ${plural(f.jira_requests, 'Jira request')}`;
  }

  function windowFailed(problem) {
    if (!state.window) {
      showOverlay(problem.detail, { error: true, retry: () => grid.reload() });
    } else {
      showProblem(problem, { key: 'window', title: 'Rows could not be loaded.', actions: [{ label: 'Try again', run: () => grid.reload() }] });
    }
  }

  function showOverlay(message, { error = false, retry } = {}) {
    overlay.hidden = false;
    overlay.replaceChildren(h('div', { class: 'overlay-box' },
      h('p', { class: error ? 'error-text' : 'muted', role: error ? 'alert' : null }, message),
      retry ? button('Try again', retry) : null));
  }

  function showEmpty(hidden) {
    overlay.hidden = false;
    overlay.replaceChildren(h('div', { class: 'overlay-box' },
      h('p', {}, hidden ? `Every row here is an issue Jira does not show you (${plural(hidden, 'issue')} hidden).` : 'This structure is empty.'),
      canEdit() ? h('p', { class: 'muted' }, 'Add issues, folders and memos by hand, or add a generator that fills it from Jira.') : null,
      canEdit() ? h('p', {}, button('Add…', () => openAdd(), { class: 'primary' }), ' ',
        allows(state.structure.level, 'automate') ? button('Generators…', () => showGenerators()) : null) : null));
  }

  function hideOverlay() {
    overlay.hidden = true;
    overlay.replaceChildren();
  }

  /** Everything again: the structure, its views and rows (after a conflict, or someone else's change). */
  async function reloadAll() {
    state.window = null;
    await start();
  }

  async function refresh() {
    refreshButton.disabled = true;
    try {
      await post(`/structures/${id}/refresh`);
      grid.reload();
      announce('Reading from Jira again…');
    } catch (problem) {
      showProblem(problem, { title: 'Could not refresh.' });
    } finally {
      refreshButton.disabled = false;
    }
  }

  // ---- Expansion ---------------------------------------------------------------------------------------
  function saveExpansion() {
    const { depth, open, closed } = state.expansion;
    sessionStorage.setItem(`arbor.expansion.${id}`, JSON.stringify({ depth, open: [...open], closed: [...closed] }));
  }

  function setExpanded(row, expanded) {
    const { depth, open, closed } = state.expansion;
    if (expanded) {
      closed.delete(row.key);
      if (row.depth >= depth) open.add(row.key);
    } else {
      open.delete(row.key);
      if (row.depth < depth) closed.add(row.key);
    }
  }

  /**
   * Moved rows keep their expansion: a row's default depends on its depth, which a move changes, so every
   * moved row and every row shown below it is remembered as open or closed by name.
   */
  function keepExpansion(rows) {
    const moved = new Set(rows.map((row) => row.key));
    const { open, closed } = state.expansion;
    let inside = -1;
    for (const [, row] of grid.loadedRows()) {
      if (inside >= 0 && row.depth <= inside) inside = -1;
      if (inside < 0 && moved.has(row.key)) inside = row.depth;
      if (inside < 0 || !row.has_children) continue;
      if (row.expanded) {
        open.add(row.key);
        closed.delete(row.key);
      } else {
        closed.add(row.key);
        open.delete(row.key);
      }
    }
    saveExpansion();
  }

  function expansionChanged() {
    saveExpansion();
    grid.reload();
  }

  function toggle(row) {
    setExpanded(row, !row.expanded);
    expansionChanged();
  }

  function showLevels(levels) {
    if (!levels) return;
    state.expansion = { depth: levels - 1, open: new Set(), closed: new Set() };
    depthSelect.value = '';
    expansionChanged();
    announce(levels === EXPAND_ALL ? 'Showing every level.' : `Showing ${plural(levels, 'level')}.`);
  }

  /** Opens a row and every row below it: page through its subtree, opening what is closed, until none is. */
  async function expandSubtree(row, index) {
    if (!row?.has_children) return;
    setExpanded(row, true);
    try {
      for (let more = true; more;) {
        more = false;
        for (let offset = index + 1; offset - index <= SUBTREE_MAX_ROWS; offset += SUBTREE_PAGE) {
          let window;
          // A first answer while issues are still being read may hold fewer rows: ask until it is whole.
          do window = await post(`/structures/${id}/rows`, windowBody(offset, SUBTREE_PAGE), { reads: true });
          while (window.loading);
          const inside = window.rows.findIndex((r) => r.depth <= row.depth);
          for (const below of inside < 0 ? window.rows : window.rows.slice(0, inside)) {
            if (below.has_children && !below.expanded) {
              setExpanded(below, true);
              more = true;
            }
          }
          if (inside >= 0 || window.rows.length < SUBTREE_PAGE) break;
        }
      }
    } catch (problem) {
      showProblem(problem, { title: 'Could not expand everything.' });
    }
    expansionChanged();
    announce(`Expanded “${row.issue_key || row.title}” with everything below it.`);
  }

  function collapseSubtree(row, index) {
    if (!row) return;
    setExpanded(row, false);
    for (let i = index + 1; grid.rowAt(i) && grid.rowAt(i).depth > row.depth; i += 1) {
      if (grid.rowAt(i).expanded) setExpanded(grid.rowAt(i), false);
    }
    expansionChanged();
  }

  // ---- Views and columns -------------------------------------------------------------------------------
  function showViews() {
    const me = session.account_id;
    fill(viewSelect, h('option', { value: '' }, 'Default columns'),
      state.views.map((view) => h('option', { value: view.id },
        `${view.name} (${view.shared ? `shared by ${viewOwner(view, me)}` : 'only you'})`)));
    viewSelect.value = state.view ? String(state.view.id) : '';
    if (state.unsaved) viewSelect.selectedOptions[0].textContent += ' (changed)';
    const view = state.view;
    viewNote.textContent = !view ? ''
      : !view.shared ? 'Your view: only you see it'
        : view.can_change ? `Shared by ${viewOwner(view, me)}: everyone who can see this structure sees it`
          : `Shared by ${viewOwner(view, me)}: only they or someone with Control can change it`;
    viewNote.hidden = !view;
    // Changed columns are saved into the view when it is yours to change, else as a view of your own.
    saveViewButton.hidden = !(state.unsaved && view && view.can_change);
    saveMineButton.hidden = !(state.unsaved && !(view && view.can_change));
    saveMineButton.title = whyNotYours(view, me) ?? 'Save these columns as a view of your own';
    // Exports follow the chosen saved view; unsaved column changes are not part of them.
    for (const link of exportLinks) {
      const format = link.dataset.format;
      const exported = format !== 'json' && view ? `&view=${view.id}` : '';
      link.href = `/api/v1/structures/${id}/export?format=${format}${exported}`;
    }
  }

  function chooseView(value) {
    state.view = state.views.find((v) => String(v.id) === value) || null;
    state.columns = state.view ? state.view.columns : DEFAULT_COLUMNS;
    state.unsaved = false;
    showViews();
    applyColumns();
    grid.reload();
  }

  /** Gives the grid its columns: the tree column, then every shown column with its remembered width. */
  function applyColumns() {
    const widths = savedWidths();
    grid.setColumns([
      { ...TREE_COLUMN, width: widths.tree || TREE_COLUMN.width },
      ...state.columns.map((column, cell) => ({ column, cell })).filter(({ column }) => isShown(column)).map(({ column, cell }) => ({
        id: columnId(column),
        title: columnTitle(column),
        width: widths[columnId(column)] || DEFAULT_WIDTH,
        cell,
        numeric: column.kind === 'totals',
        progress: column.kind === 'progress',
      })),
    ]);
  }

  function resizeColumn(columnKey, width) {
    const widths = savedWidths();
    widths[columnKey] = width;
    localStorage.setItem(WIDTHS_KEY, JSON.stringify(widths));
  }

  /** Moves a shown column (indices among shown data columns) and shows the view as changed. */
  function moveColumn(from, to) {
    const shown = state.columns.filter(isShown);
    const [moved] = shown.splice(from, 1);
    shown.splice(to, 0, moved);
    const hidden = state.columns.filter((c) => !isShown(c));
    useColumns([...hidden, ...shown]);
  }

  function useColumns(columns) {
    state.columns = columns;
    state.unsaved = true;
    showViews();
    applyColumns();
    grid.reload();
  }

  function showColumns() {
    openColumns({
      columns: state.columns,
      view: state.view,
      me: session.account_id,
      canShare: canEdit(),
      apply: (columns) => useColumns(columns),
      save: (view, columns, name, shared) => saveView(view, name || view.name, columns, shared),
      saveAs: (name, columns, shared) => saveAsMine(name, columns, shared),
      remove: async (view) => {
        const message = view.shared ? `Delete the view “${view.name}” for everyone?` : `Delete your view “${view.name}”?`;
        const sure = await confirmDialog({ title: 'Delete view', message, confirm: 'Delete', danger: true });
        if (!sure) return false;
        await del(`/structures/${id}/views/${view.id}`);
        state.views = state.views.filter((v) => v.id !== view.id);
        chooseView('');
        announce(`Deleted the view “${view.name}”.`);
        return true;
      },
    });
  }

  /** Saves `columns` as a new view owned by you (personal unless `shared`), and shows it. */
  async function saveAsMine(name, columns, shared) {
    const created = await post(`/structures/${id}/views`, { name, columns, shared });
    state.views.push(created);
    state.view = created;
    state.columns = created.columns;
    state.unsaved = false;
    showViews();
    applyColumns();
    grid.reload();
    announce(`Saved the view “${created.name}”${created.shared ? ', shared with everyone who can see this structure' : ', seen only by you'}.`);
  }

  /** Asks for a name and saves the columns shown as a view of your own. */
  function saveMyView() {
    const why = whyNotYours(state.view, session.account_id);
    const name = h('input', { required: true, maxlength: 200, autocomplete: 'off', value: state.view ? `${state.view.name} (mine)` : '' });
    openDialog({
      title: 'Save as my view',
      body: [why ? h('p', { class: 'view-note' }, why) : null, field('View name', name),
        h('p', { class: 'muted' }, 'Only you will see it.')],
      actions: [{ label: 'Save', primary: true, onClick: () => saveAsMine(name.value, state.columns, false) }],
    });
    name.select();
  }

  async function saveView(view, name, columns, shared) {
    const saved = await put(`/structures/${id}/views/${view.id}`, { name, columns, shared });
    if (saved.shared || saved.owner === session.account_id) {
      state.views = state.views.map((v) => (v.id === saved.id ? saved : v));
      state.view = saved;
      state.columns = saved.columns;
      state.unsaved = false;
    } else {
      // Made personal by someone with Control: it is its owner's alone now.
      state.views = state.views.filter((v) => v.id !== saved.id);
      state.view = null;
      state.unsaved = true;
    }
    showViews();
    applyColumns();
    grid.reload();
    announce(`Saved the view “${saved.name}”.`);
  }

  async function saveCurrentView() {
    try {
      await saveView(state.view, state.view.name, state.columns);
    } catch (problem) {
      showProblem(problem, { title: 'The view was not saved.' });
    }
  }

  // ---- Editing -----------------------------------------------------------------------------------------
  /** Enables each toolbar button that has selected rows to act on; a disabled one says why in its tooltip. */
  function updateToolbar() {
    const rows = grid.selectedRows();
    const generated = rows.some((row) => !isManual(row));
    const set = (control, why, title) => {
      control.disabled = Boolean(why);
      control.title = why || title;
    };
    const rowsWhy = (verb) => {
      if (!rows.length) return `Select rows to ${verb}`;
      return generated ? `Rows made by a generator cannot be ${verb === 'copy' ? 'copied' : verb === 'remove' ? 'removed' : 'moved'}: change their generator (Generators…)` : '';
    };
    const selected = rows.length === 1 ? 'the selected row' : `the ${plural(rows.length, 'selected row')}`;
    set(removeButton, rowsWhy('remove'), `Remove ${selected} (Delete)`);
    set(indentButton, rowsWhy('indent'), `Move ${selected} under the row above (Ctrl+→)`);
    set(outdentButton, rowsWhy('outdent') || (rows[0].depth === 0 ? 'The selected row is at the top level already' : ''),
      `Move ${selected} out of the parent (Ctrl+←)`);
    set(copyButton, rowsWhy('copy'), `Copy ${selected} (Ctrl+C)`);
    const target = rows.at(-1);
    set(pasteButton,
      !state.clipboard.length ? 'Copy rows first (Ctrl+C)'
        : !target ? 'Select the row to paste after'
          : !isManual(target) ? 'Copies cannot be pasted after a row a generator made' : '',
      `Paste ${plural(state.clipboard.length, 'copy', 'copies')} after “${target?.issue_key || target?.title}” (Ctrl+V)`);
    const parent = rows.find((row) => row.has_children);
    const subtreeWhy = !rows.length ? 'Select a row' : !parent ? 'The selected rows have no rows below them' : '';
    set(expandButton, subtreeWhy && `${subtreeWhy} to expand`,
      `Expand “${parent?.issue_key || parent?.title}” and everything below it (Shift+→)`);
    set(collapseButton, subtreeWhy && `${subtreeWhy} to collapse`,
      `Collapse “${parent?.issue_key || parent?.title}” and everything below it (Shift+←)`);
  }

  /**
   * The stored row ids of `rows`; null, with the reason told, when the caller may not edit or a row was made
   * by a generator (it has no stored row to name).
   */
  function storedRows(rows, what) {
    if (!canEdit()) {
      showProblem({ detail: 'Changing rows needs the Edit level on this structure.' }, { key: 'edit' });
      return null;
    }
    if (!rows.length) return null;
    const generated = rows.find((row) => !isManual(row));
    if (generated) {
      explainGenerated(generated, what);
      return null;
    }
    return rows.map((row) => row.row);
  }

  /**
   * Says, in a toast that shifts nothing on the page, which generator made a row that cannot be `what` and
   * what would have to change instead.
   */
  async function explainGenerated(row, what) {
    let generator = null;
    try {
      generator = (await get(`/structures/${id}/generators`)).find((g) => g.id === row.generator) ?? null;
    } catch {
      // Said without the generator's name.
    }
    const { name, change } = generatorOwns(generator);
    announce(`“${row.issue_key || row.title}” cannot be ${what}: ${name} made it, and ${change}.`);
  }

  /**
   * How many rows removing `rows` takes: each with the rows below it (a row inside another counted once);
   * `known` is false while a count of rows below is not told yet (they are still being read).
   */
  function removalCount(rows) {
    const keys = new Set(rows.map((row) => row.key));
    let count = 0;
    let known = true;
    let inside = -1;
    for (const [, row] of grid.loadedRows()) {
      if (inside >= 0 && row.depth > inside) continue;
      inside = -1;
      if (!keys.has(row.key)) continue;
      count += 1 + (row.rows_below ?? 0);
      if (row.has_children) {
        known &&= row.rows_below !== undefined;
        inside = row.depth;
      }
    }
    return { count, known };
  }

  /** Sends an edit based on the version on screen (or `basedOn`); throws the problem if it is refused. */
  async function sendEdit(change, done, basedOn = state.version) {
    const result = await post(`/structures/${id}/edits`, { edit: change, based_on: basedOn });
    changed(result);
    announce(result.merged ? `${done} (merged with changes made meanwhile).` : `${done}.`, { label: 'Undo', run: undo });
  }

  /** Sends an edit; a refusal is shown, and a conflict offers to reload or to apply the edit again. */
  async function edit(change, done, basedOn) {
    try {
      await sendEdit(change, done, basedOn);
    } catch (problem) {
      editFailed(problem, change, done);
    }
  }

  function editFailed(problem, change, done) {
    if (problem.status === 409) showConflict(problem, change, done);
    else showProblem(problem, { key: 'edit', title: 'The change was not made.' });
  }

  function showConflict(problem, change, done) {
    const current = problem.body.current_version;
    showProblem({ detail: problem.detail }, {
      key: 'edit',
      title: 'Someone changed this structure — reload or merge.',
      actions: [
        { label: 'Reload', run: reloadAll },
        ...(current ? [{ label: 'Merge my change', run: () => edit(change, done, current) }] : []),
      ],
    });
  }

  function changed(result) {
    state.version = result.version;
    showUndoRedo(result);
    grid.reload();
  }

  /**
   * What Undo and Redo would do, as the server said (`can_undo`, `undo_description`, ...): they name the change
   * of yours from this sign-in session they take back or make again, and are disabled, saying why, when there
   * is none.
   */
  function showUndoRedo(said) {
    const show = (control, can, description, verb, keys, none) => {
      control.disabled = !can;
      control.textContent = can && description ? `${verb}: ${description}` : verb;
      control.title = can ? `${verb} your change “${description}” (${keys})` : none;
    };
    show(undoButton, said.can_undo, said.undo_description, 'Undo', 'Ctrl+Z',
      'Nothing of yours to undo: Undo takes back what you changed since you signed in. '
      + 'Earlier changes, and other people\'s, can be reverted from History.');
    show(redoButton, said.can_redo, said.redo_description, 'Redo', 'Ctrl+Shift+Z or Ctrl+Y',
      'Nothing to redo: Redo makes again what you undid since you signed in.');
  }

  async function undoOrRedo(which) {
    try {
      const result = await post(`/structures/${id}/${which}`);
      changed(result);
      announce(which === 'undo' ? 'Undone.' : 'Redone.');
    } catch (problem) {
      showProblem(problem, { key: 'edit', title: which === 'undo' ? 'Nothing was undone.' : 'Nothing was redone.' });
    }
  }
  const undo = () => undoOrRedo('undo');
  const redo = () => undoOrRedo('redo');

  /** Removes rows; more than one row going (rows below them included) is confirmed first. */
  async function remove(rows) {
    const ids = storedRows(rows, 'removed');
    if (!ids) return;
    const { count, known } = removalCount(rows);
    if (count > 1 || !known) {
      const name = `“${rows[0].issue_key || rows[0].title}”`;
      const below = count - rows.length;
      const what = rows.length === 1 ? name : `The ${plural(rows.length, 'selected row')}`;
      const message = !known ? `${what} and every row below ${rows.length === 1 ? 'it' : 'them'} will be removed.`
        : below ? `${what} and the ${plural(below, 'row')} below ${rows.length === 1 ? 'it' : 'them'} will be removed.`
          : `${what} will be removed.`;
      const sure = await confirmDialog({
        title: known ? `Remove ${plural(count, 'row')}?` : `Remove ${name} and everything below it?`,
        message: `${message} Undo (Ctrl+Z) brings them back.`,
        confirm: known ? `Remove ${plural(count, 'row')}` : 'Remove',
        danger: true,
      });
      if (!sure) return;
    }
    await edit({ op: 'remove', rows: ids }, known ? `Removed ${plural(count, 'row')}` : `Removed ${plural(ids.length, 'row')} and the rows below`);
  }

  /** The index of a row among the loaded rows, or -1. */
  function indexOf(row) {
    for (const [index, loaded] of grid.loadedRows()) if (loaded.key === row.key) return index;
    return -1;
  }

  function indent(rows) {
    const ids = storedRows(rows, 'moved');
    if (!ids) return;
    const first = indexOf(rows[0]);
    let sibling = null;
    for (let i = first - 1; i >= 0 && grid.rowAt(i) && grid.rowAt(i).depth >= rows[0].depth; i -= 1) {
      if (grid.rowAt(i).depth === rows[0].depth) {
        sibling = grid.rowAt(i);
        break;
      }
    }
    if (!sibling) {
      announce('Nothing to indent under: the row is the first at its level.');
      return;
    }
    if (!isManual(sibling)) {
      announce('The row above was made by a generator: rows cannot be placed under it.');
      return;
    }
    setExpanded(sibling, true);
    keepExpansion(rows);
    edit({ op: 'move', rows: ids, to: { under: { parent: sibling.row, at: 'last' } } }, `Indented ${plural(ids.length, 'row')}`);
  }

  function outdent(rows) {
    const ids = storedRows(rows, 'moved');
    if (!ids) return;
    const parent = grid.rowAt(grid.parentIndex(indexOf(rows[0])));
    if (!parent) {
      announce('The row is already at the top level.');
      return;
    }
    if (!isManual(parent)) {
      announce('The row is under a row a generator made: it cannot be moved out of it by hand.');
      return;
    }
    keepExpansion(rows);
    edit({ op: 'move', rows: ids, to: { after: parent.row } }, `Outdented ${plural(ids.length, 'row')}`);
  }

  function copy(rows) {
    if (!storedRows(rows, 'copied')) return;
    state.clipboard = rows;
    updateToolbar();
    announce(`Copied ${plural(rows.length, 'row')}: paste them after a row with Ctrl+V.`);
  }

  function paste(target) {
    if (!state.clipboard.length) {
      announce('Nothing to paste: copy rows first (Ctrl+C).');
      return;
    }
    if (!target || !storedRows([target], 'used as a place to paste')) return;
    edit({ op: 'copy', rows: state.clipboard.map((r) => r.row), to: { after: target.row } },
      `Pasted ${plural(state.clipboard.length, 'row')}`);
  }

  function drop({ rows, to, copy: copying }) {
    const ids = storedRows(rows, copying ? 'copied' : 'moved');
    if (!ids) return;
    if (to.under) {
      const parent = [...grid.loadedRows()].find(([, r]) => r.row === to.under.parent)?.[1];
      if (parent) setExpanded(parent, true);
    }
    if (!copying) keepExpansion(rows);
    saveExpansion();
    edit({ op: copying ? 'copy' : 'move', rows: ids, to }, `${copying ? 'Copied' : 'Moved'} ${plural(ids.length, 'row')}`);
  }

  /** Issue ids for what was typed, in order: numbers are ids; keys are looked up in Jira as you. */
  async function issueIds(text) {
    const words = text.split(/[\s,]+/).filter(Boolean);
    const keys = words.filter((word) => !/^\d+$/.test(word)).map((word) => word.toUpperCase());
    const found = keys.length
      ? await get(`/jira/issue-ids?keys=${encodeURIComponent(keys.join(','))}`)
      : { ids: {}, missing: [] };
    if (found.missing.length) {
      throw new Error(`Jira does not show you ${found.missing.join(', ')}: check the ${found.missing.length === 1 ? 'key' : 'keys'}.`);
    }
    return words.map((word) => (/^\d+$/.test(word) ? Number(word) : found.ids[word.toUpperCase()]));
  }

  function openAdd() {
    if (!canEdit()) return;
    const kind = h('select', {}, h('option', { value: 'issue' }, 'Issues'), h('option', { value: 'folder' }, 'Folder'),
      h('option', { value: 'memo' }, 'Memo'));
    const text = h('textarea', { rows: 2, required: true });
    const hint = h('span', { class: 'field-hint' });
    const showHint = () => {
      hint.textContent = {
        issue: 'Issue keys or numeric ids, separated by spaces or commas.',
        folder: 'The folder’s name (up to 255 characters).',
        memo: 'The memo’s text (up to 2,000 characters).',
      }[kind.value];
    };
    kind.addEventListener('change', showHint);
    showHint();
    // Next to a row only when the person chose one.
    const focused = grid.selectedRows().at(-1);
    const where = h('select', {});
    if (isManual(focused)) {
      const name = focused.issue_key || focused.title;
      where.append(h('option', { value: 'after' }, `After “${name}”`), h('option', { value: 'under' }, `Inside “${name}” (last)`));
    }
    where.append(h('option', { value: 'end' }, 'At the end of the structure'), h('option', { value: 'start' }, 'At the start of the structure'));
    openDialog({
      title: 'Add rows',
      body: [field('What', kind), h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Content'), text, hint), field('Where', where)],
      actions: [{
        label: 'Add', primary: true,
        onClick: async () => {
          const items = kind.value === 'issue'
            ? (await issueIds(text.value)).map((issue) => ({ issue }))
            : [{ [kind.value]: text.value }];
          if (!items.length) throw new Error('Type what to add first.');
          const at = {
            after: () => ({ after: focused.row }),
            under: () => ({ under: { parent: focused.row, at: 'last' } }),
            end: () => ({ under: { parent: null, at: 'last' } }),
            start: () => ({ under: { parent: null, at: 'first' } }),
          }[where.value]();
          if (where.value === 'under') {
            setExpanded(focused, true);
            saveExpansion();
          }
          const change = { op: 'add', rows: items.map((item) => ({ depth: 0, item })), at };
          const done = `Added ${plural(items.length, 'row')}`;
          try {
            await sendEdit(change, done);
          } catch (problem) {
            // Other refusals are shown in the dialog, which stays open to fix the input.
            if (problem.status !== 409) throw problem;
            editFailed(problem, change, done);
          }
        },
      }],
    });
    text.focus();
  }

  function onBoardKey(event) {
    if (event.target.closest('input, textarea, select, dialog') || !(event.ctrlKey || event.metaKey)) return;
    const key = event.key.toLowerCase();
    if (key === 'z' || key === 'y') {
      event.preventDefault();
      if (key === 'y' || event.shiftKey) redo();
      else undo();
    }
  }

  // ---- Dialogs -----------------------------------------------------------------------------------------
  function showGenerators() {
    openGenerators({
      structure: state.structure,
      canChange: allows(state.structure.level, 'automate'),
      version: () => state.version,
      // One row of the current view: its computation is shared with the board's, so this costs no new run.
      lastRun: () => post(`/structures/${id}/rows`, windowBody(0, 1), { reads: true }),
      focusedRow: grid.selectedRows().find(isManual) ?? null,
      changed: refreshStructure,
    });
  }

  /** After a configuration change: the structure's new version, and rows computed with the change. */
  async function refreshStructure() {
    state.structure = await get(`/structures/${id}`);
    state.version = state.structure.version;
    showStructure();
    grid.reload();
  }

  async function showPermissions() {
    try {
      await openPermissions({ structure: state.structure, changed: refreshStructure });
    } catch (problem) {
      showProblem(problem, { title: 'Permissions could not be read.' });
    }
  }

  function showHistory() {
    openHistory({
      structure: state.structure,
      me: session.account_id,
      canRestore: canEdit(),
      restored: (result, version) => {
        changed(result);
        announce(`Restored version ${version}.`, { label: 'Undo', run: undo });
      },
    });
  }

  function showHelp() {
    const keys = [
      ['↑ ↓, Home, End, Page Up, Page Down', 'Move (and select); with Shift, extend the selection; with Ctrl, move without selecting'],
      ['→ / ←', 'Expand / collapse; or go to the first child / the parent'],
      ['Shift+→ / Shift+←', 'Expand / collapse the whole subtree'],
      ['Enter, double click', 'Expand or collapse'],
      ['Space / Shift+Space', 'Select or unselect the row / select from the last selected row'],
      ['Ctrl+→ / Ctrl+←', 'Indent / outdent'],
      ['Delete', 'Remove'],
      ['Ctrl+C / Ctrl+V', 'Copy rows / paste copies after the focused row'],
      ['Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y', 'Undo / redo'],
      ['Drag and drop', 'Move rows before, after or into a row; hold Ctrl or Alt to copy'],
      ['?', 'This list'],
    ];
    openDialog({
      title: 'Keyboard',
      wide: true,
      body: [h('dl', { class: 'shortcuts' }, keys.map(([k, what]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, what)]))],
    });
  }

  start();
  return {
    leave() {
      clearInterval(ticker);
      document.removeEventListener('pointerdown', closeExportOutside);
      grid.destroy();
      document.title = 'arbor';
    },
  };
}

function loadExpansion(id) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(`arbor.expansion.${id}`));
    if (saved) return { depth: saved.depth, open: new Set(saved.open), closed: new Set(saved.closed) };
  } catch {
    // A damaged entry is ignored: the structure opens with its top level expanded.
  }
  return { depth: 1, open: new Set(), closed: new Set() };
}
