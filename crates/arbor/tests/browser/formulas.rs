//! Scenario 4: a formula column, checked as it is typed, shown with its error in every cell, then fixed.

use anyhow::{Context, ensure};

use fantoccini::elements::Element;

use crate::browse::epics_example;
use crate::harness::{Board, Result};
use crate::site;

/// In the open columns dialog: chooses a formula column and returns its formula field.
async fn formula_field(board: &Board) -> Result<Element> {
    board
        .dialog_field("Kind")
        .await?
        .select_by_value("formula")
        .await?;
    board.dialog_field("Formula").await
}

/// In the open columns dialog: adds a formula column once the check says it is valid, and applies.
async fn add_formula_column(board: &Board, formula: &str) -> Result {
    let field = formula_field(board).await?;
    board.type_into(&field, formula).await?;
    let (message, _) = board.check_result(true).await?;
    ensure!(message == "Valid formula", "{message}");
    board.click_button("Add column").await?;
    board.click_button("Apply").await?;
    board.wait_no_dialog().await
}

pub(crate) async fn formula_error_then_fixed(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;

    // Checked as it is typed: an unfinished formula points at where it ends.
    board.click_button("Columns…").await?;
    let field = formula_field(board).await?;
    let unfinished = "story_points * (2 +";
    field.send_keys(unfinished).await?;
    let (message, caret) = board.check_result(false).await?;
    let column = unfinished.chars().count() + 1;
    ensure!(
        message.contains(&format!("(line 1, column {column})")),
        "the error is at the end, column {column}: {message}"
    );
    ensure!(
        caret.as_deref() == Some(format!("{unfinished}\n{}^", " ".repeat(column - 1)).as_str()),
        "{caret:?}"
    );

    // A formula that parses but fails on every row: each cell says why, inline.
    let failing = "summary * 2";
    add_formula_column(board, failing).await?;
    let at = board.column(failing).await?;
    let rows = board
        .wait_for_rows(
            "every cell of the formula column to show its error",
            |rows| {
                !rows.is_empty()
                    && rows.iter().all(|r| {
                        r.cells.get(at).is_some_and(|c| {
                            c.starts_with("Error: Cannot apply '*' to text and a number")
                        })
                    })
            },
        )
        .await?;
    let marked = board
        .js(
            "return document.querySelectorAll('.grid-body .cell-error').length;",
            vec![],
        )
        .await?;
    ensure!(
        marked.as_u64() == Some(rows.len() as u64),
        "every error cell is marked as one: {marked} of {}",
        rows.len()
    );
    board.screenshot("4-formula-column-error").await?;

    // Fixed: the failing column removed, a working one added; its cells are the issues' points doubled.
    board.click_button("Columns…").await?;
    board
        .find(
            "the remove button of the failing column",
            &format!("(//dialog[@open])[last()]//button[@aria-label='Remove {failing}']"),
        )
        .await?
        .click()
        .await?;
    let fixed = "story_points * 2";
    add_formula_column(board, fixed).await?;
    let at = board.column(fixed).await?;
    ensure!(
        !board.headers().await?.iter().any(|h| h == failing),
        "the failing column is gone"
    );
    let rows = board
        .wait_for_rows("the fixed column without errors", |rows| {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.cells.get(at).is_some_and(|c| !c.starts_with("Error")))
        })
        .await?;
    let keys: Vec<String> = rows.iter().filter_map(|r| r.key.clone()).collect();
    let points = site::story_points(board, &keys);
    let mut compared = 0;
    for row in &rows {
        let key = row.key.as_deref().context("issue rows only")?;
        let shown = row.cells[at].replace(',', "");
        match points.get(key).copied().flatten() {
            Some(p) => {
                let value: f64 = shown
                    .parse()
                    .with_context(|| format!("{key}: {shown:?} is a number"))?;
                ensure!(value == p * 2.0, "{key}: {p} story points, shown {shown}");
                compared += 1;
            }
            None => ensure!(shown.is_empty(), "{key} has no story points: {shown:?}"),
        }
    }
    ensure!(compared > 0, "some rows on screen have story points");
    ensure!(
        board
            .js(
                "return document.querySelectorAll('.grid-body .cell-error').length;",
                vec![]
            )
            .await?
            == 0,
        "no cell is marked as an error"
    );
    Ok(())
}
