// Modal dialogs on the native <dialog> element: it traps focus, closes on Escape and gives focus back to
// whatever had it before.

import { h } from './dom.js';

/**
 * Opens a dialog. `body` is nodes; `actions` are `{label, primary?, danger?, onClick}` where onClick may be
 * async and returns `false` to keep the dialog open. A thrown error is shown in the dialog.
 * Returns `{element, close, showError}`.
 */
export function openDialog({ title, body, actions = [], wide = false, onClose }) {
  const error = h('p', { class: 'dialog-error', role: 'alert', hidden: true });
  const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
  const footer = h('div', { class: 'dialog-actions' });
  const form = h('form', { method: 'dialog', class: 'dialog-form' },
    h('h2', { id: titleId }, title), h('div', { class: 'dialog-body' }, body), error, footer);
  const dialog = h('dialog', { class: wide ? 'dialog wide' : 'dialog', 'aria-labelledby': titleId }, form);

  const showError = (problem) => {
    error.textContent = problem ? problem.detail || problem.message || String(problem) : '';
    error.hidden = !problem;
  };
  const close = () => dialog.close();

  for (const action of actions) {
    const button = h('button', {
      type: action.primary ? 'submit' : 'button',
      class: action.primary ? 'primary' : action.danger ? 'danger' : '',
    }, action.label);
    const run = async (event) => {
      event.preventDefault();
      showError(null);
      button.disabled = true;
      try {
        if ((await action.onClick()) !== false) close();
      } catch (problem) {
        showError(problem);
      } finally {
        button.disabled = false;
      }
    };
    if (action.primary) form.addEventListener('submit', run);
    else button.addEventListener('click', run);
    footer.append(button);
  }
  footer.append(h('button', { type: 'button', onclick: close }, actions.length ? 'Cancel' : 'Close'));

  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { element: dialog, close, showError };
}

/** Asks a yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, message, confirm, danger = false }) {
  return new Promise((resolve) => {
    let confirmed = false;
    openDialog({
      title,
      body: [h('p', {}, message)],
      actions: [{ label: confirm, primary: !danger, danger, onClick: () => { confirmed = true; } }],
      onClose: () => resolve(confirmed),
    });
  });
}

/** A labelled form field: `field('Name', input)`. */
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control,
    hint ? h('span', { class: 'field-hint' }, hint) : null);
}
