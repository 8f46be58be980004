//! Scenario 1: sign in through the consent page, open an example, expand a row, and virtualisation.

use anyhow::{Context, ensure};

use crate::harness::{Board, Key, Result};

/// The name of the demo's "epics → stories → sub-tasks" example, and its project key.
pub(crate) async fn epics_example(board: &Board) -> Result<(String, String)> {
    let names = board.listed_structures().await?;
    let name = names
        .iter()
        .find(|n| n.ends_with(" epics → stories → sub-tasks"))
        .with_context(|| format!("the epics example is listed: {names:?}"))?
        .clone();
    let project = name
        .split(' ')
        .next()
        .context("the example's name starts with its project")?
        .to_owned();
    Ok((name, project))
}

/// How many rows are in the DOM at most for a structure of any size (a window of about 20 rows plus the
/// overscan either side).
const MAX_ROWS_IN_DOM: usize = 80;

pub(crate) async fn sign_in_open_expand(board: &Board) -> Result {
    board.sign_in("admin").await?;
    board
        .find(
            "the Log out button",
            "//header//button[normalize-space()='Log out']",
        )
        .await?;
    let names = board.listed_structures().await?;
    ensure!(
        names.len() >= 2,
        "the example structures are listed: {names:?}"
    );
    let (epics, _) = epics_example(board).await?;
    board.open_structure(&epics).await?;

    // Level 1 only: every epic, none open.
    board.show_levels("1").await?;
    let rows = board
        .wait_for_rows("only the epics, closed", |rows| {
            !rows.is_empty() && rows.iter().all(|r| r.level == 1 && !r.is_expanded())
        })
        .await?;
    let collapsed_total = board.total_rows().await?;
    ensure!(
        board
            .status()
            .await?
            .contains(&format!("{collapsed_total} rows")),
        "the status bar counts the rows: {}",
        board.status().await?
    );
    let parent = rows
        .iter()
        .find(|r| r.is_collapsed())
        .context("an epic with children")?
        .clone();

    // Open it with its triangle: it says so, and its children follow it one level deeper.
    board.click_twisty(parent.index).await?;
    let rows = board
        .wait_for_rows("the epic open, with its children under it", |rows| {
            rows.iter()
                .any(|r| r.index == parent.index && r.is_expanded())
                && rows
                    .iter()
                    .any(|r| r.index == parent.index + 1 && r.level == parent.level + 1)
        })
        .await?;
    let children: Vec<_> = rows
        .iter()
        .skip_while(|r| r.index <= parent.index)
        .take_while(|r| r.level > parent.level)
        .collect();
    ensure!(
        children.iter().all(|r| r.level == parent.level + 1),
        "only the direct children are shown: {children:?}"
    );
    let next_sibling_on_screen = rows
        .iter()
        .any(|r| r.index > parent.index && r.level == parent.level);
    let expanded_total = board.total_rows().await?;
    if next_sibling_on_screen {
        ensure!(
            expanded_total == collapsed_total + children.len() as u64,
            "{collapsed_total} rows + {} children = {expanded_total}",
            children.len()
        );
    } else {
        ensure!(expanded_total > collapsed_total);
    }

    // And closed again.
    board.click_twisty(parent.index).await?;
    board
        .wait_for_rows("the epic closed again", |rows| {
            rows.iter()
                .any(|r| r.index == parent.index && r.is_collapsed())
                && rows.iter().all(|r| r.level == 1)
        })
        .await?;

    // Every level: hundreds of rows, of which only a window is in the DOM.
    board.show_levels("1000").await?;
    board
        .wait(
            "every level to be shown",
            "const s = document.querySelector('.status-bar').innerText;
             return /^[\\d,]+ rows?$/m.test(s) && !s.includes('shown of');",
            vec![],
        )
        .await?;
    let total = board.total_rows().await?;
    let in_dom = board.rows().await?.len();
    ensure!(
        total > 300,
        "the example is a large structure: {total} rows"
    );
    ensure!(
        in_dom <= MAX_ROWS_IN_DOM && (in_dom as u64) * 5 < total,
        "{in_dom} of {total} rows are in the DOM"
    );

    // Scrolled to the end, the last rows are there and the first ones are gone.
    board
        .js(
            "const g = document.querySelector('[role=treegrid]'); g.scrollTop = g.scrollHeight;",
            vec![],
        )
        .await?;
    let last = total + 1;
    let rows = board
        .wait_for_rows("the last row after scrolling to the end", |rows| {
            rows.iter().any(|r| r.index == last && !r.title.is_empty())
        })
        .await?;
    // Only the row holding the grid's roving focus (the first) stays from the top.
    let far = rows
        .iter()
        .filter(|r| r.index + (MAX_ROWS_IN_DOM as u64) < last)
        .count();
    ensure!(
        rows.len() <= MAX_ROWS_IN_DOM && far <= 1,
        "after scrolling, {} rows are in the DOM (#{} to #{}), {far} of them far from the end",
        rows.len(),
        rows.first().map_or(0, |r| r.index),
        rows.last().map_or(0, |r| r.index)
    );

    // Back to the top with the keyboard, and to the end again: windows that were not loaded yet are
    // fetched, and the row reached is focused and selected.
    let first = rows
        .iter()
        .find(|r| r.index == 2)
        .context("the first row stays in the DOM for the roving focus")?
        .name()
        .to_owned();
    board
        .js(
            "document.querySelector('.grid-body > [role=row][aria-rowindex=\"2\"]').focus();",
            vec![],
        )
        .await?;
    board.press(&[Key::End.into()]).await?;
    board
        .wait_for_rows("the last row focused and selected by End", |rows| {
            rows.iter()
                .any(|r| r.index == last && r.focused && r.selected && !r.title.is_empty())
        })
        .await?;
    board.press(&[Key::Home.into()]).await?;
    board
        .wait_for_rows("the first row focused and selected by Home", |rows| {
            rows.iter()
                .any(|r| r.index == 2 && r.focused && r.selected && r.name() == first)
        })
        .await?;
    Ok(())
}
