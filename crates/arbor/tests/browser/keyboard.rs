//! Scenario 7: the grid by keyboard alone: Tab into it, move, open and close, select, indent, outdent, undo.

use anyhow::{Context, ensure};
use arbor_server::testing;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Board, Key, Result, Row};

/// Rows of the structure: a folder with a sub-folder (holding a memo) and a memo, then 40 folders.
fn rows() -> Vec<Value> {
    let mut rows = vec![
        json!({"depth": 0, "item": {"folder": "Alpha"}}),
        json!({"depth": 1, "item": {"folder": "Alpha 1"}}),
        json!({"depth": 2, "item": {"memo": "Alpha 1 note"}}),
        json!({"depth": 1, "item": {"memo": "Alpha 2"}}),
    ];
    rows.extend((1..=40).map(|n| json!({"depth": 0, "item": {"folder": format!("Row {n:02}")}})));
    rows
}

/// Creates the structure through the API (as admin, outside the browser) and returns its id.
async fn create(board: &Board) -> Result<u64> {
    let demo = &board.demo;
    let api = testing::sign_in(
        demo.url.as_str(),
        &demo.certificate_pem,
        demo.sim.base_url(),
        0,
        "admin",
    )
    .await?;
    let (status, created) = api
        .send(
            Method::POST,
            "/api/v1/structures",
            Some(&json!({"name": "Keyboard", "description": ""})),
        )
        .await?;
    ensure!(status.is_success(), "{status}: {created}");
    let id = created["id"].as_u64().context("an id")?;
    let edit = json!({
        "based_on": created["version"],
        "edit": {"op": "add", "at": {"under": {"parent": null, "at": "first"}}, "rows": rows()},
    });
    let (status, body) = api
        .send(
            Method::POST,
            &format!("/api/v1/structures/{id}/edits"),
            Some(&edit),
        )
        .await?;
    ensure!(status.is_success(), "{status}: {body}");
    Ok(id)
}

fn focused(rows: &[Row]) -> Option<&Row> {
    rows.iter().find(|r| r.focused)
}

fn named<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name() == name)
}

/// Presses keys, then waits until the rows satisfy `check`.
async fn press_and_see(
    board: &Board,
    keys: &[char],
    what: &str,
    check: impl Fn(&[Row]) -> bool,
) -> Result<Vec<Row>> {
    board.press(keys).await?;
    board.wait_for_rows(what, check).await
}

fn is_focused(name: &'static str) -> impl Fn(&[Row]) -> bool {
    move |rows| focused(rows).is_some_and(|r| r.name() == name)
}

pub(crate) async fn keyboard_only(board: &Board) -> Result {
    let id = create(board).await?;
    board.sign_in("admin").await?;
    board.goto(&format!("/#/s/{id}")).await?;
    board.wait_rows().await?;
    board
        .wait_for_rows("the structure's rows", |rows| {
            named(rows, "Alpha").is_some_and(Row::is_expanded)
                && named(rows, "Alpha 1").is_some_and(Row::is_collapsed)
        })
        .await?;
    let total = board.total_rows().await?;
    ensure!(total == 43, "43 rows at first: {total}");

    // From the top of the page, Tab until the keyboard focus is in the grid: on its first row.
    board
        .js(
            "document.activeElement?.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await?;
    let mut presses = 0;
    while board
        .js(
            "return !document.activeElement?.closest('[role=treegrid]');",
            vec![],
        )
        .await?
        == json!(true)
    {
        presses += 1;
        ensure!(presses <= 60, "60 presses of Tab did not reach the grid");
        board.press(&[Key::Tab.into()]).await?;
    }
    let rows = board.rows().await?;
    ensure!(
        focused(&rows).is_some_and(|r| r.index == 2 && r.name() == "Alpha"),
        "Tab lands on the first row: {:?}",
        focused(&rows)
    );

    // Down moves and selects.
    press_and_see(
        board,
        &[Key::Down.into()],
        "Alpha 1 focused and selected",
        |rows| is_focused("Alpha 1")(rows) && focused(rows).is_some_and(|r| r.selected),
    )
    .await?;
    // Right opens a closed row; its child appears one level deeper.
    press_and_see(board, &[Key::Right.into()], "Alpha 1 open", |rows| {
        named(rows, "Alpha 1").is_some_and(|r| r.is_expanded() && r.focused)
            && named(rows, "Alpha 1 note").is_some_and(|r| r.level == 3)
    })
    .await?;
    // Right on an open row goes to its first child; Left on a leaf goes back to the parent.
    press_and_see(
        board,
        &[Key::Right.into()],
        "the note focused",
        is_focused("Alpha 1 note"),
    )
    .await?;
    press_and_see(
        board,
        &[Key::Left.into()],
        "back on Alpha 1",
        is_focused("Alpha 1"),
    )
    .await?;
    // Left closes an open row.
    press_and_see(board, &[Key::Left.into()], "Alpha 1 closed", |rows| {
        named(rows, "Alpha 1").is_some_and(|r| r.is_collapsed() && r.focused)
            && named(rows, "Alpha 1 note").is_none()
    })
    .await?;
    // Enter opens and closes too.
    press_and_see(
        board,
        &[Key::Enter.into()],
        "Alpha 1 opened by Enter",
        |rows| {
            named(rows, "Alpha 1").is_some_and(Row::is_expanded)
                && named(rows, "Alpha 1 note").is_some()
        },
    )
    .await?;
    press_and_see(
        board,
        &[Key::Enter.into()],
        "Alpha 1 closed by Enter",
        |rows| {
            named(rows, "Alpha 1").is_some_and(Row::is_collapsed)
                && named(rows, "Alpha 1 note").is_none()
        },
    )
    .await?;
    // Space unselects and selects the focused row.
    press_and_see(board, &[' '], "Alpha 1 unselected by Space", |rows| {
        named(rows, "Alpha 1").is_some_and(|r| r.focused && !r.selected)
    })
    .await?;
    press_and_see(board, &[' '], "Alpha 1 selected by Space", |rows| {
        named(rows, "Alpha 1").is_some_and(|r| r.focused && r.selected)
    })
    .await?;

    // End, Home, Page Down.
    let last = total + 1;
    press_and_see(board, &[Key::End.into()], "the last row focused", |rows| {
        focused(rows).is_some_and(|r| r.index == last && r.name() == "Row 40")
    })
    .await?;
    press_and_see(
        board,
        &[Key::Home.into()],
        "the first row focused",
        is_focused("Alpha"),
    )
    .await?;
    let rows = press_and_see(
        board,
        &[Key::PageDown.into()],
        "a page further down",
        |rows| focused(rows).is_some_and(|r| r.index > 7),
    )
    .await?;
    let paged = focused(&rows).map(|r| r.index).context("a focused row")?;
    ensure!(paged < last, "one page, not the end: row {paged}");

    // ? lists the keys; Escape closes the list and gives the focus back to the row.
    let before = focused(&rows).map(|r| r.name().to_owned());
    board.press(&['?']).await?;
    let title = board
        .wait(
            "the keyboard help",
            "return document.querySelector('dialog[open] h2')?.textContent;",
            vec![],
        )
        .await?;
    ensure!(title == json!("Keyboard"), "{title}");
    board.press(&[Key::Escape.into()]).await?;
    board.wait_no_dialog().await?;
    board
        .wait_for_rows("the focus back on the row", |rows| {
            focused(rows).map(|r| r.name().to_owned()) == before
        })
        .await?;

    // Ctrl+Right indents Row 02 under Row 01; Ctrl+Left outdents it.
    board.press(&[Key::Home.into()]).await?;
    for _ in 0..4 {
        board.press(&[Key::Down.into()]).await?;
    }
    board
        .wait_for_rows("Row 02 focused", is_focused("Row 02"))
        .await?;
    let indented = |rows: &[Row]| {
        named(rows, "Row 02").is_some_and(|r| r.level == 2 && r.focused)
            && named(rows, "Row 01").is_some_and(Row::is_expanded)
    };
    let outdented = |rows: &[Row]| {
        named(rows, "Row 02").is_some_and(|r| r.level == 1 && r.focused)
            && named(rows, "Row 01").is_some_and(|r| r.expanded.is_none())
    };
    press_and_see(
        board,
        &[Key::Control.into(), Key::Right.into()],
        "Row 02 indented under Row 01",
        indented,
    )
    .await?;
    board.wait_announced("Indented 1 row").await?;
    press_and_see(
        board,
        &[Key::Control.into(), Key::Left.into()],
        "Row 02 outdented",
        outdented,
    )
    .await?;
    board.wait_announced("Outdented 1 row").await?;
    press_and_see(
        board,
        &[Key::Control.into(), Key::Right.into()],
        "Row 02 indented again",
        indented,
    )
    .await?;
    // Ctrl+Z undoes the indent.
    press_and_see(
        board,
        &[Key::Control.into(), 'z'],
        "the indent undone",
        outdented,
    )
    .await?;
    board.wait_announced("Undone.").await?;
    ensure!(board.total_rows().await? == total, "no row was lost");
    Ok(())
}
