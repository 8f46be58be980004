//! Scenarios 10, 12 and 14: what Jira knows, asked as the person — the simulator's consent page signs in the person
//! whose name was typed when Enter submits it; JQL naming a project that does not exist shows Jira's warning
//! and is refused; a group generator's field typed by its name groups by that field.

use anyhow::ensure;
use serde_json::json;

use crate::browse::epics_example;
use crate::harness::{Board, Key, Result};

/// Types a name into the consent page's field and presses Enter, as a person who does not find themselves
/// among the listed people would.
pub(crate) async fn sign_in_by_typing_a_name_and_enter(board: &Board) -> Result {
    let (first, dev) = board.demo.sim.handle().with_site(|site| {
        let dev = site
            .person_by_name("dev")
            .map(|p| site.person(p).display_name.clone());
        (site.people.first().map(|p| p.name.clone()), dev)
    });
    let dev = dev.ok_or_else(|| anyhow::anyhow!("the site has a person named dev"))?;
    ensure!(
        first.as_deref() != Some("dev"),
        "dev is not the first listed person ({first:?}), so Enter signing in the first one would show"
    );
    board.goto("/").await?;
    board.click_button("Sign in with Atlassian").await?;
    let other = board
        .find("the user name field", "//input[@name='other']")
        .await?;
    other.send_keys("dev").await?;
    board.press(&[Key::Enter.into()]).await?;
    board.wait_list().await?;
    let shown = board
        .wait(
            "the signed-in person's name in the header",
            "return document.querySelector('header .account-id')?.textContent;",
            vec![],
        )
        .await?;
    ensure!(shown == json!(dev), "signed in as {shown}, not as {dev}");
    Ok(())
}

/// Opens the form for a new generator of `kind` (its value in "What it does") from the Generators dialog.
async fn open_new_generator(board: &Board, kind: &str) -> Result {
    board.click_button("Generators…").await?;
    board.click_button("Add generator").await?;
    board
        .dialog_field("What it does")
        .await?
        .select_by_value(kind)
        .await?;
    Ok(())
}

/// The text of the refusal the dialog on top shows.
async fn dialog_refusal(board: &Board) -> Result<String> {
    let refusal = board
        .wait(
            "the dialog to say why the generator was refused",
            "const dialogs = document.querySelectorAll('dialog[open]');
             const error = dialogs[dialogs.length - 1].querySelector('.dialog-error');
             return error && !error.hidden && error.textContent;",
            vec![],
        )
        .await?;
    Ok(refusal.as_str().unwrap_or_default().to_owned())
}

pub(crate) async fn jql_checked_by_jira(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (_, project) = epics_example(board).await?;
    board
        .create_structure(
            "Checked by Jira",
            "A query naming a project that does not exist",
        )
        .await?;
    open_new_generator(board, "insert_jql").await?;
    let jql = board.dialog_field("JQL").await?;
    jql.send_keys("project = NOPE AND issuetype = Epic").await?;
    let warning = "The value 'NOPE' does not exist for the field 'project'.";
    let (message, caret) = board.check_result(false).await?;
    ensure!(
        message == format!("Jira warns: {warning}") && caret.is_none(),
        "the check shows Jira's warning: {message} {caret:?}"
    );
    ensure!(
        jql.attr("aria-invalid").await?.as_deref() == Some("true"),
        "the field is marked invalid"
    );
    board.click_button("Add").await?;
    let refusal = dialog_refusal(board).await?;
    ensure!(
        refusal.contains(warning),
        "the refusal quotes Jira: {refusal}"
    );

    // Fixed: Jira has nothing to say, and it is added.
    board
        .type_into(&jql, &format!("project = {project} AND issuetype = Epic"))
        .await?;
    let (message, _) = board.check_result(true).await?;
    ensure!(message == "Valid JQL", "{message}");
    board.click_button("Add").await?;
    board
        .wait(
            "the generator in the list",
            "const dialogs = document.querySelectorAll('dialog[open]');
             return dialogs.length === 1 && dialogs[0].querySelector('.generator');",
            vec![],
        )
        .await?;
    Ok(())
}

pub(crate) async fn group_by_a_field_typed_by_name(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (_, project) = epics_example(board).await?;
    let statuses: Vec<String> = board
        .demo
        .sim
        .handle()
        .with_site(|site| site.statuses.iter().map(|s| s.name.clone()).collect());
    board
        .create_structure("Epics by status", "Grouped by a field typed by its name")
        .await?;
    open_new_generator(board, "insert_jql").await?;
    board
        .dialog_field("JQL")
        .await?
        .send_keys(&format!("project = {project} AND issuetype = Epic"))
        .await?;
    board.check_result(true).await?;
    board.click_button("Add").await?;
    board
        .wait(
            "the insert generator in the list",
            "const dialogs = document.querySelectorAll('dialog[open]');
             return dialogs.length === 1 && dialogs[0].querySelectorAll('.generator').length === 1;",
            vec![],
        )
        .await?;

    // A typo is refused with what was probably meant.
    board.click_button("Add generator").await?;
    board
        .dialog_field("What it does")
        .await?
        .select_by_value("group_by_field")
        .await?;
    let field = board.dialog_field("Field").await?;
    field.send_keys("Stauts").await?;
    board.click_button("Add").await?;
    let refusal = dialog_refusal(board).await?;
    ensure!(
        refusal.contains("no field named 'Stauts'; did you mean 'Status'?"),
        "{refusal}"
    );
    board.type_into(&field, "Status").await?;
    board.click_button("Add").await?;
    board
        .wait(
            "the group generator in the list, named by the field's name",
            "const dialogs = document.querySelectorAll('dialog[open]');
             if (dialogs.length !== 1) return false;
             const items = [...dialogs[0].querySelectorAll('.generator')];
             return items.length === 2 && items[1].textContent.includes('Group by a field')
               && items[1].querySelector('.generator-config').textContent === 'Status';",
            vec![],
        )
        .await?;
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;
    let rows = board
        .wait_for_rows("one header per status, not “No Status”", |rows| {
            let headers: Vec<_> = rows.iter().filter(|r| r.level == 1).collect();
            !headers.is_empty()
                && headers
                    .iter()
                    .all(|r| r.key.is_none() && statuses.contains(&r.title))
        })
        .await?;
    ensure!(
        rows.iter().all(|r| !r.title.starts_with("No ")),
        "{rows:#?}"
    );
    Ok(())
}
