// The virtualised tree grid. Only the rows in view (plus a small overscan, plus the focused row) are in the
// DOM; the body is sized `total × ROW_HEIGHT` so the scroll bar spans every row. Rows arrive in blocks of
// BLOCK from `load(offset, limit)` and are cached by block until `reload()`.
//
// The grid owns what is on screen: focus (roving tabindex over rows), selection, keyboard, drag and drop,
// column sizes and order as the person drags them. What those gestures mean for the structure is decided by
// the `actions` it is given.

import { h } from './dom.js';

export const ROW_HEIGHT = 32;
const BLOCK = 200;
const OVERSCAN = 8;
const INDENT = 18;
const MIN_COLUMN_WIDTH = 56;
const CATEGORIES = new Set(['new', 'indeterminate', 'done']);

/** Rows made by a generator have no stored row id: they cannot be moved, removed or copied. */
export const isManual = (row) => row && row.row !== undefined;

export class TreeGrid {
  /**
   * `label`: the grid's accessible name. `load(offset, limit)`: resolves to a window of rows.
   * `onWindow(window)`: each window as it arrives. `onError(problem)`: a window failed.
   * `canEdit()`: whether rows may be dragged. `onSelect()`: the selection, or the rows it names, changed.
   * `actions`: toggle(row), expandSubtree(row, index),
   * collapseSubtree(row, index), indent(rows), outdent(rows), remove(rows), copy(rows), paste(row), drop({rows, to, copy}),
   * resizeColumn(id, width), moveColumn(from, to), help().
   */
  constructor({ label, load, onWindow, onError, canEdit, onSelect, actions }) {
    Object.assign(this, { load, onWindow, onError, canEdit, onSelect, actions });
    this.total = 0;
    this.version = null;
    this.blocks = new Map();
    this.stale = new Map();
    this.pending = new Set();
    // Nothing is fetched before the first reload(): the owner decides when the columns are known.
    this.generation = -1;
    this.failedGeneration = -1;
    this.rendered = new Map();
    this.columns = [];
    this.focusIndex = 0;
    this.focusKey = undefined;
    this.selectWhenLoaded = -1;
    this.resizing = false;
    this.selected = new Set();
    this.anchorIndex = 0;
    this.frame = 0;
    this.markedFirstRows = false;

    this.headRow = h('div', { class: 'grid-row grid-head-row', role: 'row', 'aria-rowindex': 1 });
    this.body = h('div', { class: 'grid-body', role: 'rowgroup' });
    this.dropLine = h('div', { class: 'drop-line', hidden: true });
    this.body.append(this.dropLine);
    this.element = h('div', {
      class: 'grid', role: 'treegrid', 'aria-label': label, 'aria-multiselectable': 'true',
      'aria-rowcount': 1, tabindex: 0,
      onscroll: () => this.scheduleRender(),
      onkeydown: (event) => this.onKey(event),
      onclick: (event) => this.onClick(event),
      ondblclick: (event) => this.onDoubleClick(event),
      onfocus: (event) => { if (event.target === this.element) this.focusRow(this.focusIndex); },
    }, h('div', { class: 'grid-head', role: 'rowgroup' }, this.headRow), this.body);
    this.setUpRowDragging();
    this.resizeObserver = new ResizeObserver(() => this.scheduleRender());
    this.resizeObserver.observe(this.element);
  }

  /** Stops for good: windows still arriving are dropped and nothing more is fetched. */
  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    this.generation = -1;
  }

  // ---- Columns -------------------------------------------------------------------------------------------

  /**
   * `columns`: `[{id, title, width, cell, numeric, progress}]`, the first being the tree column (`cell` is
   * the index into a row's `cells`, absent for the tree column).
   */
  setColumns(columns) {
    this.columns = columns;
    this.element.setAttribute('aria-colcount', columns.length);
    this.applyWidths();
    this.headRow.replaceChildren(...columns.map((column, index) => this.headerCell(column, index)));
    for (const element of this.rendered.values()) element.row = null;
    this.scheduleRender();
  }

  applyWidths() {
    const widths = this.columns.map((c) => `${c.width}px`).join(' ');
    const total = this.columns.reduce((sum, c) => sum + c.width, 0);
    this.element.style.setProperty('--grid-columns', widths);
    this.element.style.setProperty('--grid-width', `${total}px`);
  }

  headerCell(column, index) {
    const cell = h('div', {
      class: `grid-cell grid-header${column.numeric ? ' numeric' : ''}`, role: 'columnheader',
      'aria-colindex': index + 1, title: column.title, draggable: index > 0 ? 'true' : null,
    }, h('span', { class: 'header-title' }, column.title));
    const handle = h('span', { class: 'column-resize', 'aria-hidden': 'true' });
    handle.addEventListener('pointerdown', (event) => this.startResize(event, column, handle));
    cell.append(handle);
    if (index > 0) this.setUpColumnDragging(cell, index);
    return cell;
  }

  startResize(event, column, handle) {
    event.preventDefault();
    event.stopPropagation();
    this.resizing = true;
    handle.setPointerCapture(event.pointerId);
    const startX = event.clientX;
    const startWidth = column.width;
    const move = (e) => {
      column.width = Math.max(MIN_COLUMN_WIDTH, Math.round(startWidth + e.clientX - startX));
      this.applyWidths();
    };
    const up = () => {
      this.resizing = false;
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      this.actions.resizeColumn(column.id, column.width);
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  }

  setUpColumnDragging(cell, index) {
    cell.addEventListener('dragstart', (event) => {
      if (this.resizing) {
        event.preventDefault();
        return;
      }
      event.dataTransfer.setData('application/x-arbor-column', String(index));
      event.dataTransfer.effectAllowed = 'move';
    });
    cell.addEventListener('dragover', (event) => {
      if (!event.dataTransfer.types.includes('application/x-arbor-column')) return;
      event.preventDefault();
      const after = event.offsetX > cell.clientWidth / 2;
      cell.classList.toggle('drop-before', !after);
      cell.classList.toggle('drop-after', after);
    });
    cell.addEventListener('dragleave', () => cell.classList.remove('drop-before', 'drop-after'));
    cell.addEventListener('drop', (event) => {
      const from = Number(event.dataTransfer.getData('application/x-arbor-column'));
      const after = cell.classList.contains('drop-after');
      cell.classList.remove('drop-before', 'drop-after');
      if (!from) return;
      event.preventDefault();
      // Indices among data columns (the tree column is 0 and stays first).
      let to = index - 1 + (after ? 1 : 0);
      if (from - 1 < to) to -= 1;
      if (to !== from - 1) this.actions.moveColumn(from - 1, to);
    });
  }

  // ---- Windows -------------------------------------------------------------------------------------------

  /** Forgets every fetched window (the expansion, the view or the structure changed) and loads what is in view. */
  reload() {
    this.generation += 1;
    this.stale = this.blocks.size ? this.blocks : this.stale;
    this.blocks = new Map();
    this.pending.clear();
    this.scheduleRender();
  }

  /** The row at `index` from a current window, or undefined while it is loading. */
  rowAt(index) {
    return this.blocks.get(Math.floor(index / BLOCK))?.[index % BLOCK];
  }

  /** Every row of the current windows, in order, with its index. */
  *loadedRows() {
    for (const block of [...this.blocks.keys()].sort((a, b) => a - b)) {
      const rows = this.blocks.get(block);
      for (let i = 0; i < rows.length; i += 1) yield [block * BLOCK + i, rows[i]];
    }
  }

  async fetchBlock(block) {
    const generation = this.generation;
    this.pending.add(block);
    let window;
    try {
      window = await this.load(block * BLOCK, BLOCK);
      if (generation !== this.generation) return;
      if (this.version !== null && window.version < this.version) {
        // Computed before a change this grid has already seen: ask again.
        this.scheduleRender();
        return;
      }
      if (this.version !== null && window.version > this.version) {
        // Someone changed the structure: the windows fetched before belong to the older version.
        this.blocks = new Map();
      }
      this.version = window.version;
      this.total = window.total;
      // The row count changes now, with the status bar's, not at the next frame.
      this.element.setAttribute('aria-rowcount', this.total + 1);
      this.blocks.set(block, window.rows);
      this.stale = new Map();
      this.followFocusedKey(block, window.rows);
      this.onWindow(window);
      this.onSelect();
      this.scheduleRender();
    } catch (problem) {
      if (generation !== this.generation) return;
      // No more asking on every scroll until the next reload.
      this.failedGeneration = generation;
      this.onError(problem);
    } finally {
      if (generation === this.generation) this.pending.delete(block);
    }
    // A first answer while the structure's issues are still being read: ask again for the whole block, which
    // the server answers once they are all read.
    if (window?.loading && generation === this.generation) this.fetchBlock(block);
  }

  /**
   * After a reload, the focused row may have moved: follow it by its key when its new block arrives. Focus
   * moved to a row that was not loaded yet gets its key (and the selection it was moved with) now.
   */
  followFocusedKey(block, rows) {
    const at = this.focusKey ? rows.findIndex((row) => row.key === this.focusKey) : -1;
    if (at >= 0) this.focusIndex = block * BLOCK + at;
    const focused = this.rowAt(this.focusIndex);
    if (!this.focusKey && focused) this.focusKey = focused.key;
    if (this.selectWhenLoaded === this.focusIndex && focused) {
      this.selected = new Set([focused.key]);
      this.selectWhenLoaded = -1;
    }
  }

  // ---- Rendering -----------------------------------------------------------------------------------------

  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  viewHeight() {
    return Math.max(ROW_HEIGHT, this.element.clientHeight - this.headRow.offsetHeight);
  }

  render() {
    const hadFocus = this.body.contains(document.activeElement);
    const total = this.total;
    this.body.style.height = `${total * ROW_HEIGHT}px`;
    this.element.setAttribute('aria-rowcount', total + 1);
    if (this.focusIndex >= total) this.focusIndex = Math.max(0, total - 1);
    const top = this.element.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((top + this.viewHeight()) / ROW_HEIGHT) + OVERSCAN);
    const wanted = new Set();
    for (let i = first; i <= last; i += 1) wanted.add(i);
    if (total > 0) wanted.add(this.focusIndex);

    for (const [index, element] of this.rendered) {
      if (!wanted.has(index)) {
        element.remove();
        this.rendered.delete(index);
      }
    }
    for (const index of wanted) {
      const row = this.rowAt(index) ?? this.stale.get(Math.floor(index / BLOCK))?.[index % BLOCK];
      let element = this.rendered.get(index);
      if (!element) {
        element = h('div', { role: 'row' });
        element.row = null;
        this.body.append(element);
        this.rendered.set(index, element);
      }
      if (element.row !== row) this.fill(element, row);
      this.updateRow(element, index, row);
    }
    // The first rows on screen, as a performance mark for `arbor-bench ui` and anyone's performance panel:
    // set at the start of the next frame, so after this one's paint.
    if (!this.markedFirstRows && this.blocks.size > 0) {
      this.markedFirstRows = true;
      requestAnimationFrame(() => performance.mark('arbor:first-rows'));
    }
    const focused = this.rendered.get(this.focusIndex);
    this.element.tabIndex = focused ? -1 : 0;
    // A re-rendered or moved focused row keeps the keyboard focus the grid had.
    if (hadFocus && focused && !this.body.contains(document.activeElement)) focused.focus({ preventScroll: true });

    // The first block is asked for even when nothing is known yet (total 0).
    const firstBlock = Math.floor(first / BLOCK);
    if (this.generation < 0 || this.failedGeneration === this.generation) return;
    for (let block = firstBlock; block <= Math.max(firstBlock, Math.floor(last / BLOCK)); block += 1) {
      if (!this.blocks.has(block) && !this.pending.has(block)) this.fetchBlock(block);
    }
  }

  fill(element, row) {
    element.row = row;
    if (!row) {
      element.replaceChildren(h('div', { class: 'grid-cell tree-cell', role: 'gridcell' },
        h('span', { class: 'skeleton' })));
      return;
    }
    const tree = h('div', { class: 'grid-cell tree-cell', role: 'gridcell' },
      h('span', {
        class: `twisty ${row.has_children ? (row.expanded ? 'expanded' : 'collapsed') : 'leaf'}`,
        'data-action': row.has_children ? 'toggle' : null, 'aria-hidden': 'true',
      }),
      row.kind === 'issue' ? null : h('span', { class: `kind-icon kind-${row.kind}`, 'aria-hidden': 'true' }),
      row.issue_key ? h('span', { class: 'issue-key' }, row.issue_key) : null,
      h('span', { class: `title title-${row.kind}`, title: row.title }, row.title || (row.kind === 'issue' ? '' : '(untitled)')));
    tree.firstChild.style.marginLeft = `${row.depth * INDENT}px`;
    element.replaceChildren(tree, ...this.columns.slice(1).map((column) => dataCell(row.cells[column.cell], column)));
  }

  updateRow(element, index, row) {
    const selected = row ? this.selected.has(row.key) : false;
    element.className = `grid-row${row ? '' : ' placeholder'}${selected ? ' selected' : ''}${row && !this.rowAt(index) ? ' stale' : ''}`;
    element.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    element.setAttribute('aria-rowindex', index + 2);
    element.tabIndex = index === this.focusIndex ? 0 : -1;
    element.dataset.index = index;
    if (row) {
      element.setAttribute('aria-level', row.depth + 1);
      element.setAttribute('aria-selected', String(selected));
      if (row.has_children) element.setAttribute('aria-expanded', String(row.expanded));
      else element.removeAttribute('aria-expanded');
      element.removeAttribute('aria-busy');
      element.draggable = this.canEdit() && isManual(row);
    } else {
      element.setAttribute('aria-busy', 'true');
      element.removeAttribute('aria-expanded');
      element.draggable = false;
    }
  }

  // ---- Focus and selection -------------------------------------------------------------------------------

  focusedRow() {
    return this.rowAt(this.focusIndex);
  }

  /** The selected rows among the loaded ones, in order: what the toolbar acts on. */
  selectedRows() {
    if (!this.selected.size) return [];
    return [...this.loadedRows()].map(([, row]) => row).filter((row) => this.selected.has(row.key));
  }

  /**
   * The rows a key pressed in the grid applies to: the selection when it holds the focused row, else the
   * focused row (the keyboard focus, outlined, is on it).
   */
  targetRows() {
    const focused = this.focusedRow();
    if (!focused) return [];
    if (!this.selected.has(focused.key)) return [focused];
    return [...this.loadedRows()].map(([, row]) => row).filter((row) => this.selected.has(row.key));
  }

  /** Moves focus to a row, scrolling it into view, and gives it DOM focus. */
  focusRow(index) {
    if (this.total === 0) return;
    this.focusIndex = Math.max(0, Math.min(this.total - 1, index));
    this.focusKey = this.rowAt(this.focusIndex)?.key;
    const top = this.focusIndex * ROW_HEIGHT;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + ROW_HEIGHT > this.element.scrollTop + this.viewHeight()) {
      this.element.scrollTop = top + ROW_HEIGHT - this.viewHeight();
    }
    this.render();
    this.rendered.get(this.focusIndex)?.focus({ preventScroll: true });
  }

  selectOnly(index) {
    const row = this.rowAt(index);
    this.selected = new Set(row ? [row.key] : []);
    this.selectWhenLoaded = row ? -1 : index;
    this.anchorIndex = index;
    this.onSelect();
  }

  selectRange(from, to) {
    this.selected = new Set();
    for (let i = Math.min(from, to); i <= Math.max(from, to); i += 1) {
      const row = this.rowAt(i);
      if (row) this.selected.add(row.key);
    }
    this.onSelect();
  }

  toggleSelected(index) {
    const row = this.rowAt(index);
    if (!row) return;
    if (this.selected.has(row.key)) this.selected.delete(row.key);
    else this.selected.add(row.key);
    this.anchorIndex = index;
    this.onSelect();
  }

  /** Moves focus by keyboard: selects the row too, extends the selection with Shift, leaves it with Ctrl. */
  moveTo(index, event) {
    const target = Math.max(0, Math.min(this.total - 1, index));
    if (event.shiftKey) this.selectRange(this.anchorIndex, target);
    else if (!(event.ctrlKey || event.metaKey)) this.selectOnly(target);
    this.focusRow(target);
  }

  /** The nearest row above `index` that is shallower (its parent), among loaded rows. */
  parentIndex(index) {
    const row = this.rowAt(index);
    for (let i = index - 1; row && i >= 0; i -= 1) {
      const above = this.rowAt(i);
      if (!above) return -1;
      if (above.depth < row.depth) return i;
    }
    return -1;
  }

  onKey(event) {
    if (event.target.closest('.grid-head')) return;
    const ctrl = event.ctrlKey || event.metaKey;
    const row = this.focusedRow();
    const page = Math.max(1, Math.floor(this.viewHeight() / ROW_HEIGHT) - 1);
    const at = this.focusIndex;
    const keys = {
      ArrowDown: () => this.moveTo(at + 1, event),
      ArrowUp: () => this.moveTo(at - 1, event),
      Home: () => this.moveTo(0, event),
      End: () => this.moveTo(this.total - 1, event),
      PageDown: () => this.moveTo(at + page, event),
      PageUp: () => this.moveTo(at - page, event),
      ArrowRight: () => {
        if (!row) return;
        if (ctrl) this.actions.indent(this.targetRows());
        else if (event.shiftKey) this.actions.expandSubtree(row, at);
        else if (row.has_children && !row.expanded) this.actions.toggle(row);
        else if (row.has_children) this.moveTo(at + 1, event);
      },
      ArrowLeft: () => {
        if (!row) return;
        if (ctrl) this.actions.outdent(this.targetRows());
        else if (event.shiftKey) this.actions.collapseSubtree(row, at);
        else if (row.has_children && row.expanded) this.actions.toggle(row);
        else if (this.parentIndex(at) >= 0) this.moveTo(this.parentIndex(at), event);
      },
      Enter: () => { if (row?.has_children) this.actions.toggle(row); },
      ' ': () => {
        if (event.shiftKey) this.selectRange(this.anchorIndex, at);
        else this.toggleSelected(at);
        this.render();
      },
      Delete: () => this.actions.remove(this.targetRows()),
      '?': () => this.actions.help(),
    };
    const withCtrl = {
      c: () => this.actions.copy(this.targetRows()),
      v: () => { if (row) this.actions.paste(row); },
      a: () => {
        for (const [, loaded] of this.loadedRows()) this.selected.add(loaded.key);
        this.onSelect();
        this.render();
      },
    };
    const handler = ctrl && withCtrl[event.key.toLowerCase()] ? withCtrl[event.key.toLowerCase()] : keys[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  }

  rowIndexOf(event) {
    const element = event.target.closest('.grid-body > [role="row"]');
    return element ? Number(element.dataset.index) : -1;
  }

  onClick(event) {
    const index = this.rowIndexOf(event);
    if (index < 0) return;
    const row = this.rowAt(index);
    if (event.target.closest('[data-action="toggle"]') && row) {
      this.focusRow(index);
      this.actions.toggle(row);
      return;
    }
    if (event.shiftKey) this.selectRange(this.anchorIndex, index);
    else if (event.ctrlKey || event.metaKey) this.toggleSelected(index);
    else this.selectOnly(index);
    this.focusRow(index);
  }

  onDoubleClick(event) {
    const row = this.rowAt(this.rowIndexOf(event));
    if (row?.has_children && !event.target.closest('[data-action]')) this.actions.toggle(row);
  }

  // ---- Dragging rows -------------------------------------------------------------------------------------

  setUpRowDragging() {
    let dragged = null;
    let drop = null;
    const clear = () => {
      this.dropLine.hidden = true;
      this.body.querySelector('.drop-into')?.classList.remove('drop-into');
      drop = null;
    };
    this.body.addEventListener('dragstart', (event) => {
      const index = this.rowIndexOf(event);
      const row = this.rowAt(index);
      if (!row || !this.canEdit()) return;
      if (!this.selected.has(row.key)) {
        this.selectOnly(index);
        this.focusIndex = index;
        this.focusKey = row.key;
        this.render();
      }
      dragged = this.targetRows();
      event.dataTransfer.effectAllowed = 'copyMove';
      event.dataTransfer.setData('application/x-arbor-rows', dragged.map((r) => r.key).join(' '));
      event.dataTransfer.setData('text/plain', dragged.map((r) => r.issue_key || r.title).join('\n'));
    });
    this.body.addEventListener('dragover', (event) => {
      if (!dragged || !event.dataTransfer.types.includes('application/x-arbor-rows')) return;
      this.autoScroll(event);
      clear();
      const index = this.rowIndexOf(event);
      const target = this.rowAt(index);
      if (!target || !isManual(target) || this.insideDragged(index, dragged)) {
        event.dataTransfer.dropEffect = 'none';
        return;
      }
      event.preventDefault();
      const copy = event.ctrlKey || event.altKey;
      event.dataTransfer.dropEffect = copy ? 'copy' : 'move';
      const y = event.clientY - this.rendered.get(index).getBoundingClientRect().top;
      const zone = y < ROW_HEIGHT * 0.3 ? 'before' : y > ROW_HEIGHT * 0.7 ? 'after' : 'into';
      drop = { target, copy, to: this.dropPosition(target, zone) };
      if (zone === 'into') {
        this.rendered.get(index).classList.add('drop-into');
      } else {
        const childFirst = zone === 'after' && target.expanded;
        this.dropLine.hidden = false;
        this.dropLine.style.transform = `translateY(${(zone === 'before' ? index : index + 1) * ROW_HEIGHT - 1}px)`;
        this.dropLine.style.marginLeft = `${(target.depth + (childFirst ? 1 : 0)) * INDENT + 8}px`;
      }
    });
    this.body.addEventListener('dragleave', (event) => {
      if (!this.body.contains(event.relatedTarget)) clear();
    });
    this.body.addEventListener('drop', (event) => {
      event.preventDefault();
      const chosen = drop;
      clear();
      if (chosen && dragged) this.actions.drop({ rows: dragged, to: chosen.to, copy: chosen.copy });
    });
    this.body.addEventListener('dragend', () => {
      clear();
      dragged = null;
    });
  }

  /** Where a drop puts rows: before or after the target, or under it (first child if it is open, else last). */
  dropPosition(target, zone) {
    if (zone === 'before') return { before: target.row };
    if (zone === 'after' && target.expanded) return { under: { parent: target.row, at: 'first' } };
    if (zone === 'after') return { after: target.row };
    return { under: { parent: target.row, at: 'last' } };
  }

  /** Whether `index` is one of the dragged rows or inside one of their subtrees. */
  insideDragged(index, dragged) {
    const keys = new Set(dragged.map((r) => r.key));
    for (let i = index; i >= 0; i -= 1) {
      const row = this.rowAt(i);
      if (!row) return false;
      if (keys.has(row.key)) return true;
      if (row.depth === 0) return false;
      // Only ancestors matter: skip up to the next shallower row.
      const depth = row.depth;
      while (i > 0 && (this.rowAt(i - 1)?.depth ?? -1) >= depth) i -= 1;
    }
    return false;
  }

  autoScroll(event) {
    const box = this.element.getBoundingClientRect();
    const edge = ROW_HEIGHT * 1.5;
    if (event.clientY < box.top + this.headRow.offsetHeight + edge) this.element.scrollTop -= ROW_HEIGHT / 2;
    else if (event.clientY > box.bottom - edge) this.element.scrollTop += ROW_HEIGHT / 2;
  }
}

/** One data cell: empty, plain text, or `{text, number?, category?, error?, pending?}`. */
function dataCell(value, column) {
  const cell = h('div', { class: 'grid-cell', role: 'gridcell' });
  if (value === null || value === undefined) return cell;
  if (typeof value === 'string') {
    cell.textContent = value;
    cell.title = value;
    return cell;
  }
  if (value.pending) {
    cell.classList.add('muted');
    cell.title = 'Waiting for the issues below this row';
    cell.textContent = value.text;
    return cell;
  }
  if (value.error) {
    cell.classList.add('cell-error');
    cell.title = value.error;
    cell.append(h('span', { class: 'error-mark', 'aria-hidden': 'true' }, '!'), `Error: ${value.error}`);
    return cell;
  }
  if (value.category && CATEGORIES.has(value.category)) {
    cell.append(h('span', { class: `lozenge lozenge-${value.category}` }, value.text));
    return cell;
  }
  if (column.progress && typeof value.number === 'number') {
    const bar = h('span', { class: 'progress-fill' });
    bar.style.width = `${Math.round(Math.max(0, Math.min(1, value.number)) * 100)}%`;
    cell.append(h('span', { class: 'progress-bar', 'aria-hidden': 'true' }, bar), h('span', {}, value.text));
    return cell;
  }
  if (typeof value.number === 'number') cell.classList.add('numeric');
  cell.textContent = value.text;
  cell.title = value.text;
  return cell;
}
