//! Scenario 22: Undo and Redo take back only what you changed in this sign-in session, and say what. On a
//! demo example (set up by the server for admin), admin's Undo is disabled and says why, and Ctrl+Z leaves
//! every row; a folder admin adds and removes is undone and redone by keyboard and mouse, each button naming
//! the change; after signing in again, that change is no longer theirs to undo.

use anyhow::{Context, ensure};
use serde_json::json;

use crate::browse::epics_example;
use crate::harness::{Board, Key, Result};

const FOLDER: &str = "Undo me";

/// Waits until the toolbar's Undo or Redo button (`verb`) reads `text` and is enabled or not; returns its
/// tooltip.
async fn button(board: &Board, verb: &str, text: &str, enabled: bool) -> Result<String> {
    let found = board
        .wait(
            &format!("the {verb} button to read “{text}” and be {}", if enabled { "enabled" } else { "disabled" }),
            "const b = [...document.querySelectorAll('.toolbar button')]
               .find((b) => b.textContent.startsWith(arguments[0]));
             return b && b.textContent === arguments[1] && b.disabled !== arguments[2] ? { title: b.title } : null;",
            vec![json!(verb), json!(text), json!(enabled)],
        )
        .await?;
    Ok(found["title"].as_str().unwrap_or_default().to_owned())
}

/// Whether the folder is among the rows.
async fn has_folder(board: &Board) -> Result<bool> {
    Ok(board.rows().await?.iter().any(|r| r.name() == FOLDER))
}

/// Clicks the first epic, so that the keyboard acts on the grid.
async fn focus_first_epic(board: &Board) -> Result {
    let rows = board.rows().await?;
    let epic = rows
        .iter()
        .find(|r| r.name() != FOLDER)
        .context("an epic is shown")?
        .name()
        .to_owned();
    board.row_element(&epic).await?.click().await?;
    Ok(())
}

pub(crate) async fn undo_this_session(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (epics, _) = epics_example(board).await?;
    board.open_structure(&epics).await?;
    board.show_levels("1").await?;
    board
        .wait_for_rows("the epics", |rows| {
            !rows.is_empty() && rows.iter().all(|r| r.level == 1)
        })
        .await?;
    let epics_shown = board.total_rows().await?;

    // The example was set up for admin, but admin changed nothing in this session: nothing to undo.
    let why = button(board, "Undo", "Undo", false).await?;
    ensure!(
        why.contains("Nothing of yours to undo") && why.contains("History"),
        "the disabled Undo says why: {why:?}"
    );
    button(board, "Redo", "Redo", false).await?;
    // Ctrl+Z anyway: the board says nothing was undone, and every row stays.
    focus_first_epic(board).await?;
    board.press(&[Key::Control.into(), 'z']).await?;
    let said = board
        .wait(
            "the board to say nothing was undone",
            "const b = document.querySelector('#alerts .banner');
             return b && b.textContent.includes('Nothing was undone.') ? b.textContent : null;",
            vec![],
        )
        .await?;
    ensure!(
        said.as_str().is_some_and(|s| s.contains("History")),
        "it says where older changes are reverted: {said}"
    );
    board.wait_rows().await?;
    ensure!(
        board.total_rows().await? == epics_shown,
        "no row was undone away"
    );

    // A folder of admin's own: Undo names it.
    board.add_rows("folder", FOLDER, "start").await?;
    let title = button(board, "Undo", "Undo: add 1 row", true).await?;
    ensure!(title.contains("Ctrl+Z"), "{title:?}");
    // Removed with the mouse: Undo now names the removal.
    board.row_element(FOLDER).await?.click().await?;
    board.click_button("Remove").await?;
    board.wait_announced("Removed 1 row").await?;
    button(board, "Undo", "Undo: remove 1 row", true).await?;
    board
        .wait_for_rows("the folder removed", |rows| {
            !rows.is_empty() && rows.iter().all(|r| r.name() != FOLDER)
        })
        .await?;

    // Ctrl+Z takes the removal back; Redo offers it again.
    focus_first_epic(board).await?;
    board.press(&[Key::Control.into(), 'z']).await?;
    board.wait_announced("Undone.").await?;
    board
        .wait_for_rows("the folder back", |rows| {
            rows.iter().any(|r| r.name() == FOLDER)
        })
        .await?;
    button(board, "Undo", "Undo: add 1 row", true).await?;
    button(board, "Redo", "Redo: remove 1 row", true).await?;

    // Ctrl+Shift+Z removes it again; nothing is left to redo.
    focus_first_epic(board).await?;
    board
        .press(&[Key::Control.into(), Key::Shift.into(), 'z'])
        .await?;
    board.wait_announced("Redone.").await?;
    board
        .wait_for_rows("the folder removed again", |rows| {
            !rows.is_empty() && rows.iter().all(|r| r.name() != FOLDER)
        })
        .await?;
    button(board, "Undo", "Undo: remove 1 row", true).await?;
    button(board, "Redo", "Redo", false).await?;

    // The Undo button itself, clicked.
    board.click_button("Undo: remove 1 row").await?;
    board
        .wait_for_rows("the folder back once more", |rows| {
            rows.iter().any(|r| r.name() == FOLDER)
        })
        .await?;
    button(board, "Undo", "Undo: add 1 row", true).await?;

    // Signed in again: a new session, in which admin has changed nothing yet.
    board.log_out().await?;
    board.sign_in("admin").await?;
    board.open_structure(&epics).await?;
    ensure!(has_folder(board).await?, "the folder is still there");
    button(board, "Undo", "Undo", false).await?;
    Ok(())
}
