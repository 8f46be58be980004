//! Scenario 9: admin puts a folder holding an issue dev may see and one dev may not into a structure and lets
//! everyone edit it. Dev, who sees the folder with one issue, selects the folder and presses Remove: the board
//! says the change was not made because it would remove rows Jira does not show dev, names none of them, and
//! the folder stays — for admin too.

use anyhow::ensure;

use crate::harness::{Board, Result};
use crate::site;

const NAME: &str = "Team plan";
const LAST_RULE: &str = "(//dialog[@open])[last()]//tbody/tr[last()]";

pub(crate) async fn removing_a_folder_with_hidden_rows_is_refused(board: &Board) -> Result {
    let (seen, unseen) = site::seen_and_unseen(board, "dev", 1);
    ensure!(
        seen.len() == 1 && unseen.len() == 1,
        "the site has issues dev may and may not see"
    );
    board.sign_in("admin").await?;
    board.create_structure(NAME, "").await?;
    board.add_rows("folder", "Sprint", "end").await?;
    board.row_element("Sprint").await?.click().await?;
    board
        .add_rows("issue", &format!("{} {}", seen[0], unseen[0]), "under")
        .await?;
    board
        .wait_for_rows("the folder and its two issues", |rows| rows.len() == 3)
        .await?;

    board.click_button("Permissions…").await?;
    board.click_button("Add rule").await?;
    board
        .find(
            "the new rule's grantee",
            &format!("{LAST_RULE}//select[@aria-label='Who']"),
        )
        .await?
        .select_by_value("everyone")
        .await?;
    board
        .find(
            "the new rule's level",
            &format!("{LAST_RULE}//select[@aria-label='Level']"),
        )
        .await?
        .select_by_value("edit")
        .await?;
    board.click_button("Save rules").await?;
    board.wait_no_dialog().await?;

    board.log_out().await?;
    board.sign_in("dev").await?;
    board.open_structure(NAME).await?;
    board
        .wait_for_rows("the folder and the issue dev may see", |rows| {
            rows.len() == 2
        })
        .await?;
    board.row_element("Sprint").await?.click().await?;
    board.click_button("Remove").await?;
    // Asked first: the folder and the one row dev sees below it (the hidden one is not counted to dev).
    board
        .find(
            "the question how many rows go",
            "//dialog[@open]//h2[normalize-space()='Remove 2 rows?']",
        )
        .await?;
    board.click_button("Remove 2 rows").await?;
    let banner = board
        .wait(
            "the board to say the change was not made",
            "const b = document.querySelector('#alerts .banner');
             return b && b.textContent.includes('The change was not made.') ? b.textContent : null;",
            vec![],
        )
        .await?;
    let said = banner.as_str().unwrap_or_default();
    ensure!(
        said.contains("Jira does not show you") && !said.contains(&unseen[0]),
        "the message says why, and names no hidden issue: {said}"
    );
    board.screenshot("9-hidden-rows-dev").await?;
    board
        .wait_for_rows("the folder still there for dev", |rows| rows.len() == 2)
        .await?;

    board.log_out().await?;
    board.sign_in("admin").await?;
    board.open_structure(NAME).await?;
    board
        .wait_for_rows("all three rows still there for admin", |rows| {
            rows.len() == 3
        })
        .await?;
    Ok(())
}
