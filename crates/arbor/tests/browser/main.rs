//! The board in a real browser: headless Chromium driven through chromedriver (WebDriver), against
//! `arbor demo` (jira-sim in-process with the real data, SQLite, HTTPS on a loopback port). Each test is one
//! scenario with its own demo and browser session; it asserts on what a person sees (text, ARIA attributes,
//! row counts) and leaves a screenshot in `target/browser-screenshots/`.
//!
//! Needs `ARBOR_TEST_CHROMIUM` and `ARBOR_TEST_CHROMEDRIVER` (scripts/test sets them); without them every
//! scenario prints SKIPPED and passes.

mod browse;
mod contrast;
mod editing;
mod formulas;
mod generators;
mod harness;
mod hidden;
mod keyboard;
mod people;
mod site;
mod undo;
mod xss;

use harness::{Scheme, run, run_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_open_expand_and_virtualise() {
    run("1-sign-in-open-expand", |board| {
        Box::pin(browse::sign_in_open_expand(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jql_generator_with_an_inline_error_first() {
    run("2-jql-generator", |board| {
        Box::pin(generators::jql_generator(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_drag_and_drop_undo_and_totals() {
    run("3-folder-drag-undo-totals", |board| {
        Box::pin(editing::folder_drag_undo_totals(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_column_error_then_fixed() {
    run("4-formula-column", |board| {
        Box::pin(formulas::formula_error_then_fixed(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_see_different_rows() {
    run("5-two-people", |board| {
        Box::pin(people::two_people_see_different_rows(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_names_memos_and_summaries_is_text() {
    run("6-markup-is-text", |board| {
        Box::pin(xss::markup_is_text(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only() {
    run("7-keyboard-only", |board| {
        Box::pin(keyboard::keyboard_only(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contrast_aa_in_light() {
    run("8-contrast-light", |board| {
        Box::pin(contrast::contrast_aa(board, Scheme::System))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contrast_aa_in_dark() {
    run_in("8-contrast-dark", Scheme::Dark, |board| {
        Box::pin(contrast::contrast_aa(board, Scheme::Dark))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_folder_with_hidden_rows_is_refused() {
    run("9-hidden-rows", |board| {
        Box::pin(hidden::removing_a_folder_with_hidden_rows_is_refused(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_takes_back_only_this_sessions_changes() {
    run("10-undo-this-session", |board| {
        Box::pin(undo::undo_this_session(board))
    })
    .await;
}
