//! Scenario 16: an edit, Undo and Redo, the History telling what happened in words, and a restore from the
//! History whose dialog names the generator that comes back, which then runs (issue #20, items 3 and 4).

use anyhow::{Context, ensure};
use serde_json::json;

use crate::browse::epics_example;
use crate::generators::thousands;
use crate::harness::{Board, Result, Row, xpath_literal};
use crate::site;

/// The History's entries, newest first: (what, "when · who · version N").
async fn history(board: &Board, at_least: usize) -> Result<Vec<(String, String)>> {
    board.click_button("History…").await?;
    let said = board
        .wait(
            "the history's entries",
            "const items = [...document.querySelectorAll('dialog[open] .history-item')];
             return items.length >= arguments[0]
               && items.map((i) => [i.querySelector('strong').textContent, i.querySelector('p').textContent]);",
            vec![json!(at_least)],
        )
        .await?;
    Ok(serde_json::from_value(said)?)
}

/// The version an entry's line names ("… · version 7").
fn version_of(line: &str) -> Option<u64> {
    line.rsplit("version ").next()?.trim().parse().ok()
}

async fn wait_total(board: &Board, what: &str, total: usize) -> Result {
    board
        .wait(
            what,
            "return Number(document.querySelector('[role=treegrid]').getAttribute('aria-rowcount')) - 1 === arguments[0];",
            vec![json!(total)],
        )
        .await?;
    board.wait_rows().await
}

pub(crate) async fn history_and_restore(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (_, project) = epics_example(board).await?;
    let epics = site::epics(board, &project);
    ensure!(!epics.is_empty(), "{project} has epics");
    let [(issue, _), _] =
        site::two_pointed_issues(board, &project).context("an issue that is not an epic")?;

    board.create_structure("Restore me", "").await?;
    // A generator, then a folder and an issue placed by hand.
    board.click_button("Generators…").await?;
    board.click_button("Add generator").await?;
    let jql = format!("project = {project} AND issuetype = Epic ORDER BY key");
    let field = board.dialog_field("JQL").await?;
    field.send_keys(&jql).await?;
    board.check_result(true).await?;
    board.click_button("Add").await?;
    board
        .find(
            "the generator in the list",
            "//dialog[@open]//li[contains(@class, 'generator')]",
        )
        .await?;
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;
    wait_total(board, "the epics", epics.len()).await?;
    board.add_rows("folder", "Box", "end").await?;
    board.add_rows("issue", &issue, "end").await?;
    wait_total(
        board,
        "the epics, the folder and the issue",
        epics.len() + 2,
    )
    .await?;

    // Undo and redo the issue's addition, with the mouse, on the buttons that say what they do.
    board.click_button("Undo: add 1 row").await?;
    board.wait_announced("Undone.").await?;
    wait_total(board, "the issue undone", epics.len() + 1).await?;
    board.click_button("Redo: add 1 row").await?;
    board.wait_announced("Redone.").await?;
    wait_total(board, "the issue back", epics.len() + 2).await?;

    // The History says who did what, in words, with the versions every entry shows.
    let said = history(board, 7).await?;
    let whats: Vec<&str> = said.iter().map(|(what, _)| what.as_str()).collect();
    let added = version_of(&said[2].1).with_context(|| format!("a version: {said:?}"))?;
    let generator = format!("Inserts the issues a JQL query finds ({jql})");
    ensure!(
        whats
            == [
                format!("Redid version {added} (added {issue})").as_str(),
                &format!("Undid version {added} (removed {issue})"),
                &format!("Added {issue}"),
                "Added folder “Box”",
                &format!("Added generator: {generator}"),
                &format!("Set up generator: {generator}"),
                "Created the structure “Restore me”",
            ],
        "{said:?}"
    );
    ensure!(
        said.iter().all(|(_, line)| line.contains(" · you")),
        "each entry says who: {said:?}"
    );
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;

    // The generator is removed; then the version in which it was added is restored from the History.
    board.click_button("Generators…").await?;
    board.click_button("Remove").await?;
    board.click_button("Remove").await?;
    board
        .find(
            "the empty list of generators",
            "//dialog[@open]//p[starts-with(normalize-space(), 'No generators.')]",
        )
        .await?;
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;
    wait_total(board, "only the rows placed by hand", 2).await?;

    history(board, 9).await?;
    let entry = format!("Added generator: {generator}");
    board
        .find(
            "the restore button of the generator's version",
            &format!(
                "//dialog[@open]//li[contains(@class, 'history-item')][.//strong[normalize-space()={}]]\
                 //button[normalize-space()='Restore this version']",
                xpath_literal(&entry)
            ),
        )
        .await?
        .click()
        .await?;
    let told = board
        .wait(
            "the restore dialog",
            "const dialogs = document.querySelectorAll('dialog[open]');
             const last = dialogs[dialogs.length - 1];
             return dialogs.length === 2 && last.querySelector('.restore-rows') && last.innerText;",
            vec![],
        )
        .await?;
    let told = told.as_str().unwrap_or_default();
    ensure!(
        told.contains("Rows placed by hand: 2 rows now, 0 rows after the restore.")
            && told.contains(&format!("{generator} — comes back")),
        "the dialog says what the restore does: {told}"
    );
    board.screenshot("16-history-restore-dialog").await?;
    board.click_button("Restore").await?;
    board.wait_no_dialog().await?;
    board.wait_announced("Restored version").await?;
    wait_total(board, "the epics from the generator back", epics.len()).await?;

    // The generator runs: its last run added the epics.
    board.click_button("Generators…").await?;
    board
        .wait(
            "the generator's last run",
            "const item = document.querySelector('dialog[open] .generator');
             return item && item.textContent.includes(arguments[0]);",
            vec![json!(format!("{} rows added", thousands(epics.len())))],
        )
        .await?;
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;

    // Undo gives back the rows placed by hand.
    board.click_button("Undo").await?;
    board.wait_announced("Undone.").await?;
    wait_total(board, "the rows placed by hand again", 2).await?;
    let rows = board.rows().await?;
    let names: Vec<&str> = rows.iter().map(Row::name).collect();
    ensure!(names == ["Box", issue.as_str()], "{names:?}");
    Ok(())
}
