//! Scenario 6: markup in a structure's name and description, a folder, a memo and an issue's summary (changed
//! in Jira) is shown as text.

use anyhow::{Context, ensure};
use serde_json::json;

use crate::harness::{Board, Result};
use crate::site;

const IMG: &str = "<img src=x onerror=window.__xss=1>";
const SCRIPT: &str = "<script>window.__xss=1</script>";

/// Whether any markup ran or became an element.
async fn nothing_ran(board: &Board, where_: &str) -> Result {
    let found = board
        .js(
            "return {
               xss: typeof window.__xss,
               images: document.querySelectorAll('img').length,
               scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('__xss')).length,
             };",
            vec![],
        )
        .await?;
    ensure!(
        found == json!({"xss": "undefined", "images": 0, "scripts": 0}),
        "{where_}: markup ran or became elements: {found}"
    );
    Ok(())
}

/// Sets an issue's summary in the simulated Jira, as someone editing it there would.
async fn set_summary(board: &Board, key: &str, summary: &str) -> Result {
    let sim = &board.demo.sim;
    let response = reqwest::Client::new()
        .put(format!("{}/_sim/issues/{key}", sim.base_url()))
        .bearer_auth(sim.admin_token())
        .json(&json!({ "summary": summary }))
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "the simulator did not change {key}: {}",
        response.status()
    );
    Ok(())
}

pub(crate) async fn markup_is_text(board: &Board) -> Result {
    let (seen, _) = site::seen_and_unseen(board, "admin", 1);
    let issue = seen.first().context("an issue admin may see")?;
    set_summary(board, issue, IMG).await?;
    board.sign_in("admin").await?;
    board.create_structure(IMG, SCRIPT).await?;
    let shown = board
        .js(
            "return [document.querySelector('.board-title').textContent,
                     document.querySelector('.board-description').textContent,
                     document.title];",
            vec![],
        )
        .await?;
    ensure!(
        shown == json!([IMG, SCRIPT, format!("{IMG} · arbor")]),
        "the name and description are shown as typed: {shown}"
    );
    nothing_ran(board, "the board's title").await?;

    board.add_rows("folder", SCRIPT, "end").await?;
    board.add_rows("memo", IMG, "end").await?;
    board.add_rows("issue", issue, "end").await?;
    let rows = board
        .wait_for_rows("the folder, the memo and the issue", |rows| rows.len() == 3)
        .await?;
    let titles: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    ensure!(
        titles == [SCRIPT, IMG, IMG],
        "rows show their text: {titles:?}"
    );
    nothing_ran(board, "the rows").await?;

    // The dialogs that name the structure.
    board.click_button("Permissions…").await?;
    let title = board
        .wait(
            "the permissions dialog",
            "return document.querySelector('dialog[open] h2')?.textContent;",
            vec![],
        )
        .await?;
    ensure!(title == json!(format!("Who may use “{IMG}”")), "{title}");
    board.click_button("Cancel").await?;
    board.click_button("History…").await?;
    let title = board
        .wait(
            "the history dialog",
            "return document.querySelector('dialog[open] h2')?.textContent;",
            vec![],
        )
        .await?;
    ensure!(title == json!(format!("History of “{IMG}”")), "{title}");
    board.click_button("Close").await?;
    nothing_ran(board, "the dialogs").await?;

    // The list names it too.
    board.click_button("← Structures").await?;
    board.wait_list().await?;
    ensure!(
        board.listed_structures().await?.iter().any(|n| n == IMG),
        "the list shows the name as text"
    );
    let description = board
        .js(
            "return [...document.querySelectorAll('.structure-description')].map((p) => p.textContent);",
            vec![],
        )
        .await?;
    ensure!(
        description
            .as_array()
            .is_some_and(|d| d.contains(&json!(SCRIPT))),
        "the list shows the description as text: {description}"
    );
    nothing_ran(board, "the list").await
}
