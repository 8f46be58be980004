//! Scenario 21: the demo's shared "Planning" view is Ada Admin's. Devon, with Edit, sees whose it is, is told
//! why he may not change it when he tries (the columns dialog and the toolbar offer him no "Save view"), and
//! saves his own copy; Ada then finds her view as it was and does not see Devon's. Owners are named, never
//! shown as account ids, in "Shared with me" too, and columns carry Jira's field names.

use anyhow::ensure;
use serde_json::{Value, json};

use crate::browse::epics_example;
use crate::harness::{Board, Result};

/// The view picker's options and the note beside it.
async fn view_picker(board: &Board) -> Result<Value> {
    board
        .js(
            "const select = document.querySelector('select[aria-label=View]');
             return {
               options: [...select.options].map((o) => o.textContent),
               chosen: select.selectedOptions[0].textContent,
               note: document.querySelector('.toolbar .view-note').textContent,
             };",
            vec![],
        )
        .await
}

pub(crate) async fn a_shared_view_is_its_owners(board: &Board) -> Result {
    board.sign_in("dev").await?;
    // "Shared with me" names the demo's owner.
    let shared = board
        .js(
            "return [...document.querySelectorAll('.structure-section')]
               .find((s) => s.querySelector('h2').textContent.startsWith('Shared with me'))
               ?.querySelector('.structure-meta')?.textContent ?? '';",
            vec![],
        )
        .await?;
    ensure!(
        shared
            .as_str()
            .is_some_and(|s| s.starts_with("Owner Ada Admin · ")),
        "the owner is named in “Shared with me”: {shared}"
    );
    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;

    // The Planning view opens, Ada's and shared, its columns titled with Jira's field names.
    let picker = view_picker(board).await?;
    ensure!(
        picker["chosen"] == "Planning (shared by Ada Admin)"
            && picker["note"]
                == "Shared by Ada Admin: only they or someone with Control can change it",
        "{picker}"
    );
    let headers = board.headers().await?;
    ensure!(
        headers.iter().any(|h| h == "Sum of Story point estimate")
            && headers.iter().any(|h| h == "Story point estimate")
            && !headers
                .iter()
                .any(|h| h.contains("story_points") || h.contains("customfield")),
        "Jira's field names head the columns: {headers:?}"
    );

    // Devon tries to change it: the dialog tells him why he cannot, and offers his own copy.
    board.click_button("Columns…").await?;
    let dialog = board
        .wait(
            "the columns dialog",
            "const d = document.querySelector('dialog[open]');
             return d && {
               note: d.querySelector('.view-note')?.textContent ?? '',
               buttons: [...d.querySelectorAll('.dialog-actions button')].map((b) => b.textContent),
             };",
            vec![],
        )
        .await?;
    ensure!(
        dialog["note"]
            == "“Planning” is shared by Ada Admin: only Ada Admin or someone with Control on this structure can change or delete it. Save your own copy with “Save as my view”."
            && dialog["buttons"] == json!(["Apply", "Save as my view", "Cancel"]),
        "{dialog}"
    );
    board.screenshot("21-shared-view-not-yours").await?;
    board
        .find(
            "the remove button of the progress column",
            "(//dialog[@open])[last()]//button[@aria-label='Remove Progress (story points)']",
        )
        .await?
        .click()
        .await?;
    // Applied, the change is his alone until saved: the toolbar offers his own copy, not "Save view".
    board.click_button("Apply").await?;
    board.wait_no_dialog().await?;
    let picker = board
        .wait(
            "the changed view",
            "const select = document.querySelector('select[aria-label=View]');
             const buttons = [...document.querySelectorAll('.toolbar button')]
               .filter((b) => !b.hidden && b.textContent.startsWith('Save'));
             return select.selectedOptions[0].textContent.endsWith('(changed)')
               && { buttons: buttons.map((b) => b.textContent), why: buttons[0]?.title };",
            vec![],
        )
        .await?;
    ensure!(
        picker["buttons"] == json!(["Save as my view…"])
            && picker["why"]
                .as_str()
                .is_some_and(|t| t.contains("only Ada Admin or someone with Control")),
        "{picker}"
    );
    board.click_button("Save as my view…").await?;
    let field = board.dialog_field("View name").await?;
    let offered = field.prop("value").await?;
    ensure!(offered.as_deref() == Some("Planning (mine)"), "{offered:?}");
    board.type_into(&field, "Devon's planning").await?;
    board.click_button("Save").await?;
    board.wait_no_dialog().await?;
    board
        .wait_announced("Saved the view “Devon's planning”, seen only by you.")
        .await?;
    let picker = view_picker(board).await?;
    ensure!(
        picker["chosen"] == "Devon's planning (only you)"
            && picker["note"] == "Your view: only you see it"
            && picker["options"]
                == json!([
                    "Default columns",
                    "Planning (shared by Ada Admin)",
                    "Devon's planning (only you)"
                ]),
        "{picker}"
    );
    ensure!(
        !board
            .headers()
            .await?
            .iter()
            .any(|h| h.starts_with("Progress")),
        "his view has his columns"
    );
    board.screenshot("21-shared-view-own-copy").await?;

    // Ada finds Planning as she left it, and not Devon's view.
    board.log_out().await?;
    board.sign_in("admin").await?;
    board.open_structure(&name).await?;
    let picker = view_picker(board).await?;
    ensure!(
        picker["options"] == json!(["Default columns", "Planning (shared by you)"])
            && picker["chosen"] == "Planning (shared by you)",
        "{picker}"
    );
    board.column("Progress (story points)").await?;
    board.click_button("Columns…").await?;
    board
        .find(
            "the owner's Save view button",
            "(//dialog[@open])[last()]//button[normalize-space()='Save view']",
        )
        .await?;
    board.click_button("Cancel").await?;
    board.wait_no_dialog().await?;
    Ok(())
}
