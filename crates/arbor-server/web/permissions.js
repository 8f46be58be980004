// The permissions dialog (Control): rules that grant a level to a person, a Jira group, a project role or
// everyone signed in. The highest matching level wins; the owner and arbor admins always have Control.

import { get, put } from './api.js';
import { h } from './dom.js';
import { openDialog } from './dialog.js';

const LEVELS = [
  ['view', 'View — open and export'],
  ['edit', 'Edit — change rows and views'],
  ['automate', 'Automate — change generators'],
  ['control', 'Control — permissions, rename, delete'],
];
const GRANTEES = { person: 'Person', group: 'Jira group', project_role: 'Project role', everyone: 'Everyone signed in' };

/** Opens the dialog for a structure; `changed()` is called after the rules are saved. */
export async function openPermissions({ structure, changed }) {
  const { rules, based_on: basedOn } = await get(`/structures/${structure.id}/permissions`);
  const rows = h('tbody', {});
  const editors = [];

  const addRow = (rule) => {
    const kind = h('select', { 'aria-label': 'Who' }, Object.entries(GRANTEES).map(([v, t]) => h('option', { value: v }, t)));
    kind.value = rule.grantee.kind;
    const accountId = h('input', { 'aria-label': 'Account id', placeholder: 'Atlassian account id', value: rule.grantee.account_id ?? '' });
    const groupId = h('input', { 'aria-label': 'Group id', placeholder: 'Jira group id', value: rule.grantee.group_id ?? '' });
    const projectId = h('input', { 'aria-label': 'Project id', placeholder: 'project id', inputmode: 'numeric', value: rule.grantee.project_id ?? '' });
    const roleId = h('input', { 'aria-label': 'Role id', placeholder: 'role id', inputmode: 'numeric', value: rule.grantee.role_id ?? '' });
    const who = h('div', { class: 'grantee-inputs' });
    const showWho = () => who.replaceChildren(...{
      person: [accountId], group: [groupId], project_role: [projectId, roleId], everyone: [],
    }[kind.value]);
    kind.addEventListener('change', showWho);
    showWho();
    const level = h('select', { 'aria-label': 'Level' }, LEVELS.map(([v, t]) => h('option', { value: v }, t)));
    level.value = rule.level;
    const row = h('tr', {}, h('td', {}, kind), h('td', {}, who), h('td', {}, level),
      h('td', {}, h('button', {
        type: 'button', class: 'danger', 'aria-label': 'Remove rule',
        onclick: () => { row.remove(); editors.splice(editors.indexOf(editor), 1); },
      }, 'Remove')));
    const editor = {
      read: () => {
        const grantee = { kind: kind.value };
        if (kind.value === 'person') grantee.account_id = accountId.value.trim();
        if (kind.value === 'group') grantee.group_id = groupId.value.trim();
        if (kind.value === 'project_role') {
          grantee.project_id = Number(projectId.value);
          grantee.role_id = Number(roleId.value);
        }
        return { grantee, level: level.value };
      },
    };
    editors.push(editor);
    rows.append(row);
  };
  rules.forEach(addRow);

  openDialog({
    title: `Who may use “${structure.name}”`,
    wide: true,
    body: [
      h('p', { class: 'muted' }, `The owner (${structure.owner}) and arbor admins always have Control. `
        + 'Everyone else gets the highest level any rule grants them; without a rule they cannot see the structure.'),
      h('table', { class: 'rules' },
        h('thead', {}, h('tr', {}, h('th', { colspan: 2 }, 'Who'), h('th', {}, 'Level'), h('th', {}, h('span', { class: 'visually-hidden' }, 'Actions')))),
        rows),
      h('button', { type: 'button', onclick: () => addRow({ grantee: { kind: 'person' }, level: 'view' }) }, 'Add rule'),
    ],
    actions: [{
      label: 'Save rules', primary: true,
      onClick: async () => {
        await put(`/structures/${structure.id}/permissions`, { rules: editors.map((e) => e.read()), based_on: basedOn });
        await changed();
      },
    }],
  });
}
