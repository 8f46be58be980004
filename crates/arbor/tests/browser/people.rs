//! Scenario 5: admin shares a structure with dev by names — dev found by typing part of their name and chosen
//! from the suggestions with the keyboard, a project role chosen by project and role names — and admin and
//! dev then see different rows of it; dev is told how many are hidden.
//!
//! Admin builds the structure by hand: a generator searches Jira as the person, so the issues Jira hides
//! from them never become rows at all, while rows placed by hand are stored for everyone and withheld (and
//! counted) for whoever may not see them.

use anyhow::{Context, ensure};
use serde_json::json;

use crate::harness::{Board, Key, Result, xpath_literal};
use crate::site;

/// The count in the status bar's "N issues hidden", if it says so.
fn hidden_count(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_suffix(" hidden"))
        .and_then(|count| count.split(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
}

fn keys(rows: &[crate::harness::Row]) -> Vec<String> {
    rows.iter().filter_map(|r| r.key.clone()).collect()
}

/// The last rule's row of the open permissions dialog.
const LAST_RULE: &str = "(//dialog[@open])[last()]//tbody/tr[last()]";

/// The key of the project of issue `key`, and how the dialog lists it (`Name (KEY)`).
fn project_of(board: &Board, key: &str) -> Result<(String, String)> {
    board.demo.sim.handle().with_site(|site| {
        let issue = site
            .issue_by_key(key)
            .with_context(|| format!("no issue {key}"))?;
        let project = &site.projects[usize::from(site.issue(issue).project)];
        Ok((
            project.key.clone(),
            format!("{} ({})", project.name, project.key),
        ))
    })
}

/// Types `typed` into the last rule's person combobox, and chooses `name` from the suggestions with the arrow
/// keys and Enter, checking the combobox's ARIA states on the way.
async fn choose_person(board: &Board, typed: &str, name: &str) -> Result {
    let input = board
        .find(
            "the person field",
            &format!("{LAST_RULE}//input[@role='combobox' and @aria-label='Person']"),
        )
        .await?;
    input.click().await?;
    input.send_keys(typed).await?;
    let state = board
        .wait(
            "the suggestions",
            "const input = document.querySelector('dialog[open] tbody tr:last-child [role=combobox]');
             const list = document.getElementById(input.getAttribute('aria-controls'));
             const options = [...list.querySelectorAll('[role=option]')].map((o) => o.textContent);
             return input.getAttribute('aria-expanded') === 'true' && list.getAttribute('role') === 'listbox'
               && !list.hidden && options.length ? options : null;",
            vec![],
        )
        .await?;
    let index = state
        .as_array()
        .and_then(|options| options.iter().position(|o| o == name))
        .with_context(|| format!("{name} is among the suggestions for “{typed}”: {state}"))?;
    board.screenshot("5-two-people-suggestions").await?;
    // Escape closes the suggestions, not the dialog; the arrow keys open them again.
    board.press(&[Key::Escape.into()]).await?;
    let closed = board
        .js(
            "const input = document.querySelector('dialog[open] tbody tr:last-child [role=combobox]');
             return input && input.getAttribute('aria-expanded') === 'false'
               && document.getElementById(input.getAttribute('aria-controls')).hidden;",
            vec![],
        )
        .await?;
    ensure!(
        closed == json!(true),
        "Escape closes the suggestions and leaves the dialog open"
    );
    for _ in 0..=index {
        board.press(&[Key::Down.into()]).await?;
    }
    let active = board
        .js(
            "const input = document.querySelector('dialog[open] tbody tr:last-child [role=combobox]');
             const option = document.getElementById(input.getAttribute('aria-activedescendant'));
             return option && option.getAttribute('aria-selected') === 'true' ? option.textContent : null;",
            vec![],
        )
        .await?;
    ensure!(
        active == json!(name),
        "the arrow keys reach {name}: {active}"
    );
    board.press(&[Key::Enter.into()]).await?;
    let chosen = board
        .wait(
            "the chosen person",
            "const input = document.querySelector('dialog[open] tbody tr:last-child [role=combobox]');
             return input.getAttribute('aria-expanded') === 'false' ? input.value : null;",
            vec![],
        )
        .await?;
    ensure!(
        chosen == json!(name),
        "the input shows the chosen name: {chosen}"
    );
    Ok(())
}

async fn set_level(board: &Board, level: &str) -> Result {
    board
        .find(
            "the new rule's level",
            &format!("{LAST_RULE}//select[@aria-label='Level']"),
        )
        .await?
        .select_by_value(level)
        .await?;
    Ok(())
}

pub(crate) async fn two_people_see_different_rows(board: &Board) -> Result {
    const NAME: &str = "Shared with the team";
    let (seen, unseen) = site::seen_and_unseen(board, "dev", 3);
    ensure!(
        seen.len() == 3 && unseen.len() == 3,
        "the site has issues dev may and may not see"
    );
    // Mixed: one dev may see, one dev may not, and so on.
    let all: Vec<String> = seen
        .iter()
        .zip(&unseen)
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();

    board.sign_in("admin").await?;
    board.create_structure(NAME, "").await?;
    board.add_rows("issue", &all.join(" "), "end").await?;
    let rows = board
        .wait_for_rows("every issue for admin", |rows| rows.len() == all.len())
        .await?;
    ensure!(
        keys(&rows) == all,
        "admin sees every row: {:?}",
        keys(&rows)
    );
    let status = board.status().await?;
    ensure!(
        hidden_count(&status).is_none() && status.contains("6 rows"),
        "nothing is hidden from admin: {status}"
    );

    // Shared through the permissions dialog, choosing by names: dev as a person (View), and the Developers of
    // a project dev works in (Control), whose role dev holds: the highest level wins.
    let (project, project_label) = project_of(board, &seen[0])?;
    board.click_button("Permissions…").await?;
    board.click_button("Add rule").await?;
    choose_person(board, "Devo", "Devon Developer").await?;
    set_level(board, "view").await?;
    board.click_button("Add rule").await?;
    board
        .find(
            "the new rule's grantee",
            &format!("{LAST_RULE}//select[@aria-label='Who']"),
        )
        .await?
        .select_by_value("project_role")
        .await?;
    board
        .find(
            "the project list",
            &format!(
                "{LAST_RULE}//select[@aria-label='Project']/option[normalize-space()={}]/..",
                xpath_literal(&project_label)
            ),
        )
        .await?
        .select_by_label(&project_label)
        .await?;
    let role = board
        .find(
            "the project's roles",
            &format!("{LAST_RULE}//select[@aria-label='Role' and not(@disabled)]/option[normalize-space()='Developers']/.."),
        )
        .await?;
    role.select_by_label("Developers").await?;
    set_level(board, "control").await?;
    board.screenshot("5-two-people-rules").await?;
    board.click_button("Save rules").await?;
    board.wait_no_dialog().await?;

    // Read back, the rules name whom they grant to.
    board.click_button("Permissions…").await?;
    let shown = board
        .wait(
            "the saved rules with their names",
            "const rows = [...document.querySelectorAll('dialog[open] tbody tr')];
             const text = (s) => s && s.selectedOptions[0] ? s.selectedOptions[0].textContent : '';
             const shown = rows.map((r) => [
               r.querySelector('[aria-label=Who]').value,
               r.querySelector('[role=combobox]:not([hidden])')?.value ?? '',
               text(r.querySelector('[aria-label=Project]')),
               text(r.querySelector('[aria-label=Role]')),
             ]);
             return rows.length === 2 && shown[1][3] === 'Developers' ? shown : null;",
            vec![],
        )
        .await?;
    ensure!(
        shown[0] == json!(["person", "Devon Developer", "", ""])
            && shown[1][0] == "project_role"
            && shown[1][2] == json!(project_label),
        "the rules show names, not ids: {shown}"
    );
    board.screenshot("5-two-people-admin").await?;
    board.click_button("Cancel").await?;
    board.wait_no_dialog().await?;

    // Signed out, and in again as dev.
    board.log_out().await?;
    board.sign_in("dev").await?;
    let shared = board
        .js(
            "return [...document.querySelectorAll('.structure-section')]
               .find((s) => s.querySelector('h2').textContent.startsWith('Shared with me'))
               ?.querySelector('.structure-list')?.textContent ?? '';",
            vec![],
        )
        .await?;
    ensure!(
        shared.as_str().is_some_and(|s| s.contains(NAME)),
        "the structure is listed as shared with dev: {shared}"
    );
    board.open_structure(NAME).await?;
    let rows = board
        .wait_for_rows("dev's rows", |rows| !rows.is_empty())
        .await?;
    ensure!(
        keys(&rows) == seen,
        "dev sees only the issues dev may see: {:?}",
        keys(&rows)
    );
    let status = board.status().await?;
    let hidden = hidden_count(&status)
        .with_context(|| format!("dev is told how many issues are hidden: {status}"))?;
    ensure!(
        hidden == unseen.len() as u64 && status.contains("3 rows"),
        "{status}"
    );
    let page = board
        .js(
            "return {
               tip: document.querySelector('.hidden-count').title,
               level: document.querySelector('.board-head .level-badge').textContent,
               editing: !document.querySelector('[aria-label=\"Edit rows\"]').hidden,
               text: document.body.innerText,
             };",
            vec![],
        )
        .await?;
    ensure!(
        page["tip"] == json!("Jira does not show you these issues, so arbor does not either"),
        "{}",
        page["tip"]
    );
    ensure!(
        page["level"] == json!("Control") && page["editing"] == json!(true),
        "dev has Control through the project role ({project}): {} {}",
        page["level"],
        page["editing"]
    );
    let text = page["text"].as_str().unwrap_or_default();
    let leaked: Vec<&String> = unseen
        .iter()
        .filter(|k| text.contains(k.as_str()))
        .collect();
    ensure!(
        leaked.is_empty(),
        "dev's page names hidden issues: {leaked:?}"
    );
    // dev may change the rules too, but Jira lists the project's roles only to its administrators: dev sees
    // the people and the project by name, and the role by the id it keeps.
    let developers = board.demo.sim.handle().with_site(|site| {
        site.role_by_name("Developers")
            .map(|r| site.roles[r as usize].id.to_string())
    });
    board.click_button("Permissions…").await?;
    let shown = board
        .wait(
            "the rules as dev sees them",
            "const row = document.querySelector('dialog[open] tbody tr:last-child');
             const id = row && row.querySelector('[aria-label=\"Role id\"]');
             if (!id || id.hidden) return null;
             return {
               person: document.querySelector('dialog[open] tbody tr [role=combobox]').value,
               project: row.querySelector('[aria-label=Project]').selectedOptions[0].textContent,
               role: id.value,
               note: row.querySelector('.role-picker .combobox-status').textContent,
             };",
            vec![],
        )
        .await?;
    ensure!(
        shown["person"] == "Devon Developer"
            && shown["project"] == json!(project_label)
            && developers.is_some_and(|id| shown["role"] == json!(id))
            && shown["note"]
                .as_str()
                .is_some_and(|n| n.contains("only to its administrators")),
        "{shown}"
    );
    board.screenshot("5-two-people-dev-rules").await?;
    board.click_button("Cancel").await?;
    board.wait_no_dialog().await?;
    Ok(())
}
