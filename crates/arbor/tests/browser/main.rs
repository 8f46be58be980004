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
mod jira;
mod keyboard;
mod people;
mod restore;
mod site;
mod toolbar;
mod undo;
mod views;
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
async fn consent_page_signs_in_the_typed_name_on_enter() {
    run("10-consent-enter", |board| {
        Box::pin(jira::sign_in_by_typing_a_name_and_enter(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toolbar_acts_only_on_chosen_rows() {
    run("11-toolbar-chosen-rows", |board| {
        Box::pin(toolbar::toolbar_acts_only_on_chosen_rows(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jql_naming_a_missing_project_shows_jiras_warning() {
    run("12-jql-checked-by-jira", |board| {
        Box::pin(jira::jql_checked_by_jira(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_rows_are_explained_in_place() {
    run("13-generated-row-explained", |board| {
        Box::pin(toolbar::generated_rows_are_explained_in_place(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_a_field_typed_by_its_name() {
    run("14-group-by-field-name", |board| {
        Box::pin(jira::group_by_a_field_typed_by_name(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_subtrees_keep_their_expansion() {
    run("15-moves-keep-expansion", |board| {
        Box::pin(toolbar::moved_subtrees_keep_their_expansion(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_redo_history_in_words_and_a_restore_that_keeps_generators() {
    run("16-history-restore", |board| {
        Box::pin(restore::history_and_restore(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_menu_closes() {
    run("17-export-menu-closes", |board| {
        Box::pin(toolbar::export_menu_closes(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_structure_focuses_the_grid() {
    run("18-focus-in-grid", |board| {
        Box::pin(toolbar::opened_structure_focuses_the_grid(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_rules_start_clean_and_saving_is_confirmed() {
    run("19-permission-rule", |board| {
        Box::pin(toolbar::permission_rules_start_clean_and_saving_is_confirmed(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_columns_are_named_and_edited_in_place() {
    run("20-formula-column-edit", |board| {
        Box::pin(toolbar::formula_columns_are_named_and_edited_in_place(
            board,
        ))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_view_is_changed_only_by_its_owner_and_others_save_their_own() {
    run("21-shared-views", |board| {
        Box::pin(views::a_shared_view_is_its_owners(board))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_takes_back_only_this_sessions_changes() {
    run("22-undo-this-session", |board| {
        Box::pin(undo::undo_this_session(board))
    })
    .await;
}
