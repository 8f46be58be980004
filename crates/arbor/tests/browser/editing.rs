//! Scenario 3: a folder, rows dragged into it, Ctrl+Z, and a totals column that follows.

use anyhow::{Context, ensure};

use crate::browse::epics_example;
use crate::harness::{Board, Key, Result, Row};
use crate::site;

/// A totals cell as a number (an empty cell is nothing to add up: 0).
fn total(row: &Row, column: usize) -> Result<f64> {
    let text = row
        .cells
        .get(column)
        .map_or("", |c| c.trim())
        .replace(',', "");
    if text.is_empty() {
        return Ok(0.0);
    }
    text.parse()
        .with_context(|| format!("the total of {} is a number: {text:?}", row.name()))
}

pub(crate) async fn folder_drag_undo_totals(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (_, project) = epics_example(board).await?;
    let [(first, first_points), (second, second_points)] =
        site::two_pointed_issues(board, &project).context("two issues with story points")?;

    board.create_structure("Planned by hand", "").await?;
    let undo_disabled = || async {
        board
            .js(
                "return [...document.querySelectorAll('.toolbar button')].find((b) => b.textContent.startsWith('Undo')).disabled;",
                vec![],
            )
            .await
    };
    ensure!(
        undo_disabled().await? == serde_json::json!(true),
        "a new structure has nothing of yours to undo"
    );
    // A column adding up story points over each row's subtree.
    board.click_button("Columns…").await?;
    board
        .dialog_field("Kind")
        .await?
        .select_by_value("totals")
        .await?;
    board
        .dialog_field("Field or formula variable")
        .await?
        .send_keys("story_points")
        .await?;
    board.click_button("Add column").await?;
    board.click_button("Apply").await?;
    board.wait_no_dialog().await?;
    let sum = board.column("Sum of Story point estimate").await?;

    board.add_rows("folder", "Box", "end").await?;
    board
        .add_rows("issue", &format!("{first} {second}"), "end")
        .await?;
    let rows = board
        .wait_for_rows("a folder and two issues at the top level", |rows| {
            rows.len() == 3 && rows.iter().all(|r| r.level == 1)
        })
        .await?;
    let names: Vec<&str> = rows.iter().map(Row::name).collect();
    ensure!(
        names == ["Box", first.as_str(), second.as_str()],
        "{names:?}"
    );
    ensure!(
        total(&rows[0], sum)? == 0.0,
        "an empty folder adds up to nothing"
    );
    ensure!(total(&rows[1], sum)? == first_points, "{:?}", rows[1]);
    ensure!(total(&rows[2], sum)? == second_points, "{:?}", rows[2]);

    let box_total = |wanted: f64| {
        move |rows: &[Row]| {
            rows.first()
                .is_some_and(|r| r.name() == "Box" && total(r, sum).ok() == Some(wanted))
        }
    };
    let level_of =
        |rows: &[Row], name: &str| rows.iter().find(|r| r.name() == name).map(|r| r.level);

    // Into the folder: it opens, the issue is under it, and the folder's total is the issue's points.
    board.drag(&first, "Box", "into").await?;
    let rows = board
        .wait_for_rows("the first issue inside the folder", |rows| {
            box_total(first_points)(rows)
                && rows[0].is_expanded()
                && level_of(rows, &first) == Some(2)
        })
        .await?;
    ensure!(rows[1].name() == first, "{:?}", rows[1]);
    board.wait_announced("Moved 1 row").await?;
    ensure!(
        undo_disabled().await? == serde_json::json!(false),
        "the move can be undone"
    );

    // After it, inside the folder too: the total is the sum of both.
    board.drag(&second, &first, "after").await?;
    board
        .wait_for_rows("both issues inside the folder", |rows| {
            box_total(first_points + second_points)(rows) && level_of(rows, &second) == Some(2)
        })
        .await?;

    // Ctrl+Z right after the drag (the dragged row has the keyboard focus): the second move is undone,
    // then the first.
    board.press(&[Key::Control.into(), 'z']).await?;
    board
        .wait_for_rows("the second move undone", |rows| {
            box_total(first_points)(rows)
                && level_of(rows, &second) == Some(1)
                && level_of(rows, &first) == Some(2)
        })
        .await?;
    board.wait_announced("Undone.").await?;
    board.press(&[Key::Control.into(), 'z']).await?;
    let rows = board
        .wait_for_rows("the first move undone", |rows| {
            box_total(0.0)(rows) && rows.iter().all(|r| r.level == 1) && rows.len() == 3
        })
        .await?;
    let names: Vec<&str> = rows.iter().map(Row::name).collect();
    ensure!(
        names == ["Box", first.as_str(), second.as_str()],
        "{names:?}"
    );

    // The history says what each change did, newest first.
    board.click_button("History…").await?;
    let said = board
        .wait(
            "the history's entries",
            "const items = [...document.querySelectorAll('dialog[open] .history-item strong')];
             return items.length >= 6 && items.map((i) => i.textContent);",
            vec![],
        )
        .await?;
    let said: Vec<String> = serde_json::from_value(said)?;
    // The two undos name the versions of the two moves: the newest undo took back the first move (one version
    // before the second). Rows are named by their keys, the folder by its name.
    let undone = |n: usize| {
        said[n]
            .strip_prefix("Undid version ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    ensure!(
        matches!((undone(0), undone(1)), (Some(first), Some(second)) if second == first + 1)
            && said[0].ends_with(&format!("(moved {first})"))
            && said[1].ends_with(&format!("(moved {second})"))
            && said[2..5]
                == [
                    format!("Moved {second}"),
                    format!("Moved {first}"),
                    format!("Added 2 rows: {first} and {second}"),
                ]
            && said[5] == "Added folder “Box”",
        "{said:?}"
    );
    board.click_button("Close").await
}
