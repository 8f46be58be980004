//! Scenario 2: a JQL generator through its dialog, with an invalid query first.

use anyhow::ensure;
use serde_json::json;

use crate::browse::epics_example;
use crate::harness::{Board, Result};
use crate::site;

/// "1,234" as the board writes counts.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) async fn jql_generator(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (_, project) = epics_example(board).await?;
    let epics = site::epics(board, &project);
    ensure!(!epics.is_empty(), "{project} has epics");

    board
        .create_structure("Epics by JQL", "Filled by a JQL generator")
        .await?;
    board.click_button("Generators…").await?;
    board
        .find(
            "the empty list of generators",
            "//dialog[@open]//p[starts-with(normalize-space(), 'No generators.')]",
        )
        .await?;
    board.click_button("Add generator").await?;
    let jql = board.dialog_field("JQL").await?;

    // A doubled AND: the error points at the second one, under the line, and "Go to the error" puts the
    // cursor there.
    let start = format!("project = {project} AND ");
    let bad = format!("{start}AND issuetype = Epic");
    let column = start.chars().count() + 1;
    jql.send_keys(&bad).await?;
    let (message, caret) = board.check_result(false).await?;
    ensure!(
        message.contains(&format!("(line 1, column {column})")),
        "the error names line 1, column {column}: {message}"
    );
    let expected_caret = format!("{bad}\n{}^", " ".repeat(column - 1));
    ensure!(
        caret.as_deref() == Some(expected_caret.as_str()),
        "the caret is under the second AND: {caret:?}"
    );
    ensure!(
        jql.attr("aria-invalid").await?.as_deref() == Some("true"),
        "the field is marked invalid"
    );
    board.click_button("Go to the error").await?;
    let cursor = board
        .js(
            "return document.activeElement.tagName === 'TEXTAREA' ? document.activeElement.selectionStart : -1;",
            vec![],
        )
        .await?;
    ensure!(
        cursor == json!(column - 1),
        "the cursor is at the error: {cursor}"
    );

    // Adding it anyway is refused, in the dialog, which stays open.
    board.click_button("Add").await?;
    let refusal = board
        .wait(
            "the dialog to say why the generator was refused",
            "const dialogs = document.querySelectorAll('dialog[open]');
             const error = dialogs[dialogs.length - 1].querySelector('.dialog-error');
             return error && !error.hidden && error.textContent;",
            vec![],
        )
        .await?;
    ensure!(
        refusal.as_str().is_some_and(|t| {
            t.contains(&format!("line 1, column {column}"))
                || t.contains(&format!("line 1, character {column}"))
        }),
        "the refusal points at the second AND: {refusal}"
    );

    // Fixed: valid, added, and the structure fills with the project's epics.
    let good = format!("project = {project} AND issuetype = Epic");
    board.type_into(&jql, &good).await?;
    let (message, caret) = board.check_result(true).await?;
    ensure!(message == "Valid JQL" && caret.is_none(), "{message}");
    ensure!(
        jql.attr("aria-invalid").await?.is_none(),
        "the field is no longer invalid"
    );
    board.click_button("Add").await?;
    let added = format!("{} rows added", thousands(epics.len()));
    board
        .wait(
            "the generator in the list, with what its run added",
            "const dialogs = document.querySelectorAll('dialog[open]');
             if (dialogs.length !== 1) return false;
             const item = dialogs[0].querySelector('.generator');
             return item && item.textContent.includes('Issues from a JQL query')
               && item.textContent.includes(arguments[0]) && item.textContent.includes(arguments[1]);",
            vec![json!(good), json!(added)],
        )
        .await?;
    board.click_button("Close").await?;
    board.wait_no_dialog().await?;
    board.wait_rows().await?;
    let total = board.total_rows().await?;
    ensure!(
        total == epics.len() as u64,
        "{total} rows for {} epics",
        epics.len()
    );
    let status = board.status().await?;
    ensure!(
        status.contains(&format!("{} rows", thousands(epics.len()))),
        "{status}"
    );
    let rows = board.rows().await?;
    ensure!(
        !rows.is_empty()
            && rows.iter().all(|r| {
                r.level == 1
                    && r.key.as_ref().is_some_and(|k| epics.contains(k))
                    && r.cells.iter().any(|c| c == "Epic")
            }),
        "every row is one of the epics: {rows:#?}"
    );
    Ok(())
}
