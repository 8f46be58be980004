//! Scenario 5: admin and dev see different rows of the same shared structure; dev is told how many are
//! hidden.
//!
//! Admin builds the structure by hand: a generator searches Jira as the person, so the issues Jira hides
//! from them never become rows at all, while rows placed by hand are stored for everyone and withheld (and
//! counted) for whoever may not see them.

use anyhow::{Context, ensure};
use serde_json::json;

use crate::harness::{Board, Result};
use crate::site;

/// The count in the status bar's "N issues hidden", if it says so.
fn hidden_count(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_suffix(" hidden"))
        .and_then(|count| count.split(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
}

fn keys(rows: &[crate::harness::Row]) -> Vec<String> {
    rows.iter().filter_map(|r| r.key.clone()).collect()
}

pub(crate) async fn two_people_see_different_rows(board: &Board) -> Result {
    const NAME: &str = "Shared with the team";
    let (seen, unseen) = site::seen_and_unseen(board, "dev", 3);
    ensure!(
        seen.len() == 3 && unseen.len() == 3,
        "the site has issues dev may and may not see"
    );
    // Mixed: one dev may see, one dev may not, and so on.
    let all: Vec<String> = seen
        .iter()
        .zip(&unseen)
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();

    board.sign_in("admin").await?;
    board.create_structure(NAME, "").await?;
    board.add_rows("issue", &all.join(" "), "end").await?;
    let rows = board
        .wait_for_rows("every issue for admin", |rows| rows.len() == all.len())
        .await?;
    ensure!(
        keys(&rows) == all,
        "admin sees every row: {:?}",
        keys(&rows)
    );
    let status = board.status().await?;
    ensure!(
        hidden_count(&status).is_none() && status.contains("6 rows"),
        "nothing is hidden from admin: {status}"
    );

    // Shared with everyone signed in, at the View level, through the permissions dialog.
    board.click_button("Permissions…").await?;
    board.click_button("Add rule").await?;
    let who = board
        .find(
            "the new rule's grantee",
            "(//dialog[@open])[last()]//tbody/tr[last()]//select[@aria-label='Who']",
        )
        .await?;
    who.select_by_value("everyone").await?;
    let level = board
        .find(
            "the new rule's level",
            "(//dialog[@open])[last()]//tbody/tr[last()]//select[@aria-label='Level']",
        )
        .await?;
    level.select_by_value("view").await?;
    board.click_button("Save rules").await?;
    board.wait_no_dialog().await?;
    board.screenshot("5-two-people-admin").await?;

    // Signed out, and in again as dev.
    board.click_button("Log out").await?;
    board
        .find(
            "the signed-out page",
            "//p[normalize-space()='You are signed out.']",
        )
        .await?;
    board.sign_in("dev").await?;
    let shared = board
        .js(
            "return [...document.querySelectorAll('.structure-section')]
               .find((s) => s.querySelector('h2').textContent.startsWith('Shared with me'))
               ?.querySelector('.structure-list')?.textContent ?? '';",
            vec![],
        )
        .await?;
    ensure!(
        shared.as_str().is_some_and(|s| s.contains(NAME)),
        "the structure is listed as shared with dev: {shared}"
    );
    board.open_structure(NAME).await?;
    let rows = board
        .wait_for_rows("dev's rows", |rows| !rows.is_empty())
        .await?;
    ensure!(
        keys(&rows) == seen,
        "dev sees only the issues dev may see: {:?}",
        keys(&rows)
    );
    let status = board.status().await?;
    let hidden = hidden_count(&status)
        .with_context(|| format!("dev is told how many issues are hidden: {status}"))?;
    ensure!(
        hidden == unseen.len() as u64 && status.contains("3 rows"),
        "{status}"
    );
    let page = board
        .js(
            "return {
               tip: document.querySelector('.hidden-count').title,
               level: document.querySelector('.board-head .level-badge').textContent,
               editing: !document.querySelector('[aria-label=\"Edit rows\"]').hidden,
               text: document.body.innerText,
             };",
            vec![],
        )
        .await?;
    ensure!(
        page["tip"] == json!("Jira does not show you these issues, so arbor does not either"),
        "{}",
        page["tip"]
    );
    ensure!(
        page["level"] == json!("View") && page["editing"] == json!(false),
        "dev may only view: {} {}",
        page["level"],
        page["editing"]
    );
    let text = page["text"].as_str().unwrap_or_default();
    let leaked: Vec<&String> = unseen
        .iter()
        .filter(|k| text.contains(k.as_str()))
        .collect();
    ensure!(
        leaked.is_empty(),
        "dev's page names hidden issues: {leaked:?}"
    );
    Ok(())
}
