// The permissions dialog (Control): rules that grant a level to a person, a Jira group, a project role or
// everyone signed in. The highest matching level wins; the owner and arbor admins always have Control.
// People and groups are found by name and projects and roles chosen by name, all as Jira shows them to the
// person editing; rules store only ids, and show the names Jira tells the reader (`label`).

import { get, put } from './api.js';
import { h } from './dom.js';
import { openDialog } from './dialog.js';
import { announce } from './notices.js';
import { combobox } from './combobox.js';

const LEVELS = [
  ['view', 'View — open and export'],
  ['edit', 'Edit — change rows and views'],
  ['automate', 'Automate — change generators'],
  ['control', 'Control — permissions, rename, delete'],
];
const GRANTEES = { person: 'Person', group: 'Jira group', project_role: 'Project role', everyone: 'Everyone signed in' };
const UNCHOSEN = {
  person: 'choose a person from the suggestions (type part of their name or email address)',
  group: 'choose a group from the suggestions (type part of its name)',
  project_role: 'choose a project and one of its roles',
};

const query = (text) => encodeURIComponent(text);

const findPeople = async (text) => (await get(`/jira/people?query=${query(text)}`)).people
  .map((p) => ({ id: p.account_id, name: p.display_name }));

const findGroups = async (text) => (await get(`/jira/groups?query=${query(text)}`)).groups
  .map((g) => ({ id: g.group_id, name: g.name }));

/** Projects and their roles, each asked once per dialog (a failed answer is asked again next time). */
function directory() {
  const asked = new Map();
  const once = (key, load) => {
    if (!asked.has(key)) {
      const answer = load();
      answer.catch(() => asked.delete(key));
      asked.set(key, answer);
    }
    return asked.get(key);
  };
  return {
    projects: () => once('projects', async () => (await get('/jira/projects')).projects),
    roles: (project) => once(`roles:${project}`, async () => (await get(`/jira/projects/${project}/roles`)).roles),
  };
}

/** Replaces a select's options: `[[value, text]]`, keeping `value` chosen when it is among them. */
function setOptions(select, options, value) {
  select.replaceChildren(...options.map(([v, text]) => h('option', { value: v }, text)));
  select.value = options.some(([v]) => v === value) ? value : '';
}

/** A project select and a role select loaded from the chosen project; the role's id is typed when Jira
 * will not list the project's roles. */
function projectRolePicker(grantee, jira) {
  const known = grantee.kind === 'project_role' ? grantee : {};
  // "Project KEY: Role name": the names Jira told us for a saved rule.
  const [, roleName] = (grantee.label || '').split(/: (.*)/s);
  const project = h('select', { 'aria-label': 'Project' }, h('option', { value: '' }, 'Loading projects…'));
  const role = h('select', { 'aria-label': 'Role', disabled: true }, h('option', { value: '' }, 'Choose a project first'));
  const roleId = h('input', {
    'aria-label': 'Role id', placeholder: 'role id', inputmode: 'numeric', hidden: true,
    value: known.role_id ? String(known.role_id) : '',
  });
  const note = h('div', { class: 'combobox-status muted', 'aria-live': 'polite' });
  let loading = null;

  const loadRoles = async () => {
    const chosen = project.value;
    role.disabled = true;
    roleId.hidden = true;
    note.textContent = '';
    if (!chosen) {
      setOptions(role, [['', 'Choose a project first']], '');
      return;
    }
    setOptions(role, [['', 'Loading roles…']], '');
    // The role chosen last (roles are shared by every project of a Jira Cloud site), else the saved one.
    const wanted = role.dataset.chosen
      ?? (Number(chosen) === known.project_id && known.role_id ? String(known.role_id) : '');
    try {
      const roles = await jira.roles(chosen);
      if (project.value !== chosen) return;
      const options = [['', 'Choose a role…'], ...roles.map((r) => [String(r.id), r.name])];
      if (wanted && !roles.some((r) => String(r.id) === wanted)) options.push([wanted, roleName || `Role ${wanted}`]);
      setOptions(role, options, wanted);
      role.disabled = false;
    } catch (problem) {
      if (project.value !== chosen) return;
      // Jira lists a project's roles only to its administrators: the role's id can still be typed.
      setOptions(role, [['', 'Roles not available']], '');
      roleId.hidden = false;
      if (wanted) roleId.value = wanted;
      note.className = 'combobox-status muted';
      note.textContent = problem.detail || problem.message;
    }
  };

  const loadProjects = async () => {
    try {
      const projects = await jira.projects();
      const options = [['', 'Choose a project…'], ...projects.map((p) => [String(p.id), `${p.name} (${p.key})`])];
      const wanted = known.project_id ? String(known.project_id) : '';
      if (wanted && !projects.some((p) => String(p.id) === wanted)) {
        options.push([wanted, `Project ${wanted} (Jira does not show it to you)`]);
      }
      setOptions(project, options, wanted);
      await loadRoles();
    } catch (problem) {
      setOptions(project, [['', 'Projects not available']], '');
      note.className = 'combobox-status error-text';
      note.textContent = `Could not list the projects: ${problem.detail || problem.message}`;
    }
  };

  // A saved rule nobody touched stays as saved, whether or not Jira lists its project and role right now.
  let touched = false;
  project.addEventListener('change', () => { touched = true; loadRoles(); });
  role.addEventListener('change', () => { touched = true; role.dataset.chosen = role.value; });
  roleId.addEventListener('input', () => { touched = true; role.dataset.chosen = roleId.value.trim(); });

  return {
    element: h('div', { class: 'role-picker' }, h('div', { class: 'grantee-inputs' }, project, role, roleId), note),
    /** Loads the lists the first time the picker is shown. */
    show: () => { loading ??= loadProjects(); },
    read: () => {
      if (!touched && known.project_id && known.role_id) return { project_id: known.project_id, role_id: known.role_id };
      const projectId = Number(project.value);
      const id = Number(roleId.hidden ? role.value : roleId.value.trim());
      if (!Number.isInteger(projectId) || projectId <= 0) return null;
      if (!Number.isInteger(id) || id <= 0) return null;
      return { project_id: projectId, role_id: id };
    },
  };
}

/** Opens the dialog for a structure; `changed()` is called after the rules are saved. */
export async function openPermissions({ structure, changed }) {
  const { rules, based_on: basedOn, owner_label: ownerName } = await get(`/structures/${structure.id}/permissions`);
  const jira = directory();
  const rows = h('tbody', {});
  const editors = [];

  const addRow = (rule) => {
    const { grantee } = rule;
    const kind = h('select', { 'aria-label': 'Who' }, Object.entries(GRANTEES).map(([v, t]) => h('option', { value: v }, t)));
    kind.value = grantee.kind;
    const unnamed = 'Jira does not tell you this name; the rule keeps the id';
    const person = combobox({
      label: 'Person', placeholder: 'Type a name or email address', search: findPeople,
      // A new rule has no one chosen yet (saving it then says so, rather than sending an empty grantee).
      chosen: grantee.account_id ? { id: grantee.account_id, name: grantee.label || grantee.account_id } : null,
      // Only a saved rule can name someone Jira does not name to you; a new rule says nothing until typed in.
      note: grantee.account_id && !grantee.label ? unnamed : '',
    });
    const group = combobox({
      label: 'Jira group', placeholder: 'Type part of a group name', search: findGroups,
      chosen: grantee.group_id ? { id: grantee.group_id, name: grantee.label || grantee.group_id } : null,
      note: grantee.group_id && !grantee.label ? unnamed : '',
    });
    const role = projectRolePicker(grantee, jira);
    const everyone = h('p', { class: 'muted grantee-note' }, 'Anyone who signs in to arbor with this Jira site');
    const who = h('div', { class: 'grantee' });
    const showWho = () => {
      who.replaceChildren({
        person: person.element, group: group.element, project_role: role.element, everyone,
      }[kind.value]);
      if (kind.value === 'project_role') role.show();
    };
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
      /** The rule as the API takes it, or null when its grantee is not chosen yet. */
      read: () => {
        const chosen = { kind: kind.value };
        if (kind.value === 'person') {
          const value = person.value();
          if (!value) return null;
          chosen.account_id = value.id;
        }
        if (kind.value === 'group') {
          const value = group.value();
          if (!value) return null;
          chosen.group_id = value.id;
        }
        if (kind.value === 'project_role') {
          const value = role.read();
          if (!value) return null;
          Object.assign(chosen, value);
        }
        return { grantee: chosen, level: level.value };
      },
      kind: () => kind.value,
      focus: () => (who.querySelector('input:not([hidden]), select') || kind).focus(),
    };
    editors.push(editor);
    rows.append(row);
    return editor;
  };
  rules.forEach(addRow);

  openDialog({
    title: `Who may use “${structure.name}”`,
    wide: true,
    body: [
      h('p', { class: 'muted' }, `The owner (${ownerName || structure.owner}) and arbor admins always have Control. `
        + 'Everyone else gets the highest level any rule grants them; without a rule they cannot see the structure.'),
      h('table', { class: 'rules' },
        h('colgroup', {}, h('col', { class: 'rules-kind' }), h('col', {}), h('col', { class: 'rules-level' }), h('col', { class: 'rules-actions' })),
        h('thead', {}, h('tr', {}, h('th', { colspan: 2 }, 'Who'), h('th', {}, 'Level'), h('th', {}, h('span', { class: 'visually-hidden' }, 'Actions')))),
        rows),
      h('button', {
        type: 'button',
        onclick: () => addRow({ grantee: { kind: 'person' }, level: 'view' }).focus(),
      }, 'Add rule'),
    ],
    actions: [{
      label: 'Save rules', primary: true,
      onClick: async () => {
        const read = editors.map((e) => e.read());
        const missing = read.findIndex((r) => r === null);
        if (missing >= 0) {
          editors[missing].focus();
          throw new Error(`Rule ${missing + 1}: ${UNCHOSEN[editors[missing].kind()]}.`);
        }
        await put(`/structures/${structure.id}/permissions`, { rules: read, based_on: basedOn });
        await changed();
        announce(read.length
          ? `Saved ${read.length === 1 ? 'the rule' : `${read.length} rules`}: who may use “${structure.name}” changed.`
          : `Saved: only the owner and arbor admins may use “${structure.name}” now.`);
      },
    }],
  });
}
