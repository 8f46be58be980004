//! Scenarios 11, 13, 15 and 17–20 (issue #20): the toolbar acts only on rows the person chose, and what makes the board feel
//! broken otherwise — a generated row that cannot move is explained in place, moved subtrees keep their
//! expansion, the Export menu closes, the keyboard starts in the grid, a new permission rule starts clean and
//! saving is confirmed, and formula columns are named and edited in place.

use anyhow::{Context, ensure};
use arbor_server::testing::{self, Browser};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::elements::Element;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browse::epics_example;
use crate::harness::{Board, Key, Result, Row, xpath_literal};

/// The demo's admin, signed in to the API outside the browser.
async fn api(board: &Board) -> Result<Browser> {
    let demo = &board.demo;
    Ok(testing::sign_in(
        demo.url.as_str(),
        &demo.certificate_pem,
        demo.sim.base_url(),
        0,
        "admin",
    )
    .await?)
}

async fn call(api: &Browser, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let (status, answer) = api.send(method, path, body.as_ref()).await?;
    ensure!(status.is_success(), "{path}: {status}: {answer}");
    Ok(answer)
}

/// The id of the structure named `name`.
async fn structure_id(api: &Browser, name: &str) -> Result<u64> {
    let list = call(api, Method::GET, "/api/v1/structures", None).await?;
    list.as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .and_then(|s| s["id"].as_u64())
        .with_context(|| format!("the structure “{name}” is listed: {list}"))
}

/// A new structure with `rows` (`{depth, item}`) at the top.
async fn create_with_rows(api: &Browser, name: &str, rows: Vec<Value>) -> Result<u64> {
    let created = call(
        api,
        Method::POST,
        "/api/v1/structures",
        Some(json!({"name": name, "description": ""})),
    )
    .await?;
    let id = created["id"].as_u64().context("an id")?;
    add_first(api, id, rows).await?;
    Ok(id)
}

/// Adds `rows` at the start of structure `id`.
async fn add_first(api: &Browser, id: u64, rows: Vec<Value>) -> Result {
    let structure = call(api, Method::GET, &format!("/api/v1/structures/{id}"), None).await?;
    let edit = json!({
        "based_on": structure["version"],
        "edit": {"op": "add", "at": {"under": {"parent": null, "at": "first"}}, "rows": rows},
    });
    call(
        api,
        Method::POST,
        &format!("/api/v1/structures/{id}/edits"),
        Some(edit),
    )
    .await?;
    Ok(())
}

/// How many rows of structure `id` admin sees in all (whatever is expanded).
async fn visible_rows(api: &Browser, id: u64) -> Result<u64> {
    loop {
        let window = call(
            api,
            Method::POST,
            &format!("/api/v1/structures/{id}/rows"),
            Some(json!({"limit": 1})),
        )
        .await?;
        if window["loading"] != true {
            return window["visible_rows"].as_u64().context("visible_rows");
        }
    }
}

/// Whether the toolbar button `label` is disabled, and its tooltip.
async fn button_state(board: &Board, label: &str) -> Result<(bool, String)> {
    let state = board
        .js(
            "const b = [...document.querySelectorAll('.toolbar button')].find((b) => b.textContent === arguments[0]);
             return b ? [b.disabled, b.title] : null;",
            vec![json!(label)],
        )
        .await?;
    serde_json::from_value(state.clone()).with_context(|| format!("the button “{label}”: {state}"))
}

/// A real mouse click (move, press, release) on an element, whether or not it is enabled.
async fn mouse_click(board: &Board, element: Element) -> Result {
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    board.client.perform_actions(mouse).await?;
    board.client.release_actions().await?;
    Ok(())
}

async fn toolbar_button(board: &Board, label: &str) -> Result<Element> {
    board
        .find(
            &format!("the toolbar button “{label}”"),
            &format!(
                "//div[contains(@class, 'toolbar')]//button[normalize-space()={}]",
                xpath_literal(label)
            ),
        )
        .await
}

/// The title of the open dialog on top, once one is open.
async fn dialog_title(board: &Board) -> Result<String> {
    let title = board
        .wait(
            "a dialog",
            "const d = [...document.querySelectorAll('dialog[open]')].pop(); return d?.querySelector('h2')?.textContent;",
            vec![],
        )
        .await?;
    Ok(title.as_str().unwrap_or_default().to_owned())
}

fn named<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name() == name)
}

/// An epic of `project` with at least two children (the fewest such), and how many children it has.
fn small_epic(board: &Board, project: &str) -> Option<(u64, usize)> {
    board.demo.sim.handle().with_site(|site| {
        let project = site.projects.iter().position(|p| p.key == project)?;
        site.issues
            .iter()
            .filter(|i| {
                usize::from(i.project) == project
                    && site.issue_types[usize::from(i.issue_type)].name == "Epic"
                    && i.children.len() >= 2
            })
            .min_by_key(|i| i.children.len())
            .map(|i| (i.id, i.children.len()))
    })
}

/// Item 1: with nothing selected, Remove, Indent, Outdent, Copy, Paste and the subtree buttons are disabled,
/// say why, and pressing them does nothing; removing a folder with rows below it (generated ones included)
/// asks first, with the true count: Escape keeps everything, Enter removes exactly that many.
pub(crate) async fn toolbar_acts_only_on_chosen_rows(board: &Board) -> Result {
    let admin = api(board).await?;
    board.sign_in("admin").await?;
    let (name, project) = epics_example(board).await?;
    let id = structure_id(&admin, &name).await?;
    let (epic, children) = small_epic(board, &project).context("an epic with children")?;
    // A folder holding an epic, which the structure's own generator extends with its children.
    add_first(
        &admin,
        id,
        vec![
            json!({"depth": 0, "item": {"folder": "Box"}}),
            json!({"depth": 1, "item": {"issue": epic}}),
            json!({"depth": 0, "item": {"folder": "Loose"}}),
        ],
    )
    .await?;
    board.open_structure(&name).await?;
    board
        .wait_for_rows("the folder first", |rows| {
            rows.first().is_some_and(|r| r.name() == "Box")
        })
        .await?;
    let before = visible_rows(&admin, id).await?;

    // Nothing selected: nothing to act on, and each button says what to do.
    for (label, why) in [
        ("Remove", "Select rows to remove"),
        ("Indent", "Select rows to indent"),
        ("Outdent", "Select rows to outdent"),
        ("Copy", "Select rows to copy"),
        ("Paste", "Copy rows first (Ctrl+C)"),
        ("Expand subtree", "Select a row to expand"),
        ("Collapse subtree", "Select a row to collapse"),
    ] {
        let (disabled, title) = button_state(board, label).await?;
        ensure!(
            disabled && title == why,
            "{label}: disabled {disabled}, tooltip {title:?}"
        );
    }
    for label in ["Remove", "Indent", "Outdent"] {
        mouse_click(board, toolbar_button(board, label).await?).await?;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ensure!(
        board
            .js("return !document.querySelector('dialog[open]');", vec![])
            .await?
            == json!(true),
        "no dialog opened"
    );
    ensure!(
        visible_rows(&admin, id).await? == before,
        "no row went anywhere"
    );
    let rows = board.rows().await?;
    ensure!(
        named(&rows, "Box").is_some_and(|r| r.level == 1 && !r.selected),
        "the folder is where it was, unselected: {:?}",
        named(&rows, "Box")
    );

    // The folder chosen: Remove says how many rows go, counting the epic's generated children.
    board.row_element("Box").await?.click().await?;
    board
        .wait_for_rows("the folder selected", |rows| {
            named(rows, "Box").is_some_and(|r| r.selected)
        })
        .await?;
    let (disabled, title) = button_state(board, "Remove").await?;
    ensure!(
        !disabled && title == "Remove the selected row (Delete)",
        "{disabled} {title:?}"
    );
    let going = 2 + children;
    board.click_button("Remove").await?;
    let asked = dialog_title(board).await?;
    ensure!(
        asked == format!("Remove {going} rows?"),
        "the folder, its epic and the epic's {children} children: {asked:?}"
    );
    board.screenshot("11-toolbar-remove-asks").await?;
    board.press(&[Key::Escape.into()]).await?;
    board.wait_no_dialog().await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    ensure!(
        visible_rows(&admin, id).await? == before,
        "Escape removed nothing"
    );

    // Asked again, Enter confirms: exactly that many rows go.
    board.click_button("Remove").await?;
    dialog_title(board).await?;
    board.press(&[Key::Enter.into()]).await?;
    board.wait_no_dialog().await?;
    board
        .wait_announced(&format!("Removed {going} rows"))
        .await?;
    board
        .wait_for_rows("the folder gone", |rows| named(rows, "Box").is_none())
        .await?;
    let after = visible_rows(&admin, id).await?;
    ensure!(
        after + going as u64 == before,
        "{before} rows before, {after} after removing {going}"
    );
    ensure!(
        button_state(board, "Remove").await?.0,
        "nothing is selected after the removal"
    );

    // A single row without rows below goes at once, by keyboard, with its Undo in the toast.
    board.row_element("Loose").await?.click().await?;
    board.press(&[Key::Delete.into()]).await?;
    board.wait_announced("Removed 1 row").await?;
    ensure!(
        board
            .js("return !document.querySelector('dialog[open]');", vec![])
            .await?
            == json!(true),
        "one row without rows below is removed without asking"
    );
    ensure!(visible_rows(&admin, id).await? + 1 == after, "one row went");
    Ok(())
}

/// Item 6: a generated row cannot be moved: the toolbar says so on its disabled buttons, and Ctrl+→ says in a
/// toast which generator made it and what would have to change — no banner pushes the page down.
pub(crate) async fn generated_rows_are_explained_in_place(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;
    let rows = board.rows().await?;
    let first = rows.first().context("a first row")?.name().to_owned();
    board.row_element(&first).await?.click().await?;
    board
        .wait_for_rows("the first epic selected", |rows| {
            rows.first().is_some_and(|r| r.selected)
        })
        .await?;
    let (disabled, title) = button_state(board, "Indent").await?;
    ensure!(
        disabled && title.contains("made by a generator"),
        "{disabled} {title:?}"
    );
    let top = || async {
        board
            .js(
                "return document.querySelector('.grid-wrap').getBoundingClientRect().top;",
                vec![],
            )
            .await
    };
    let grid_top = top().await?;
    board
        .press(&[Key::Control.into(), Key::Right.into()])
        .await?;
    board
        .wait_announced(&format!(
            "“{first}” cannot be moved: the generator “Issues from a JQL query” made it"
        ))
        .await?;
    let said = board
        .js(
            "return document.getElementById('announce').textContent;",
            vec![],
        )
        .await?;
    ensure!(
        said.as_str()
            .is_some_and(|s| s.contains("change its settings")),
        "it says what would have to change: {said}"
    );
    ensure!(
        board
            .js(
                "return document.querySelectorAll('#alerts .banner').length;",
                vec![]
            )
            .await?
            == json!(0),
        "no banner"
    );
    ensure!(top().await? == grid_top, "the grid did not move");
    board.screenshot("13-generated-row-toast").await?;
    Ok(())
}

/// Item 6: a subtree moved by the mouse or the keyboard stays as expanded as it was.
pub(crate) async fn moved_subtrees_keep_their_expansion(board: &Board) -> Result {
    let admin = api(board).await?;
    let folder = |depth: u8, name: &str| json!({"depth": depth, "item": {"folder": name}});
    let memo = |depth: u8, text: &str| json!({"depth": depth, "item": {"memo": text}});
    let id = create_with_rows(
        &admin,
        "Moves",
        vec![
            folder(0, "Alpha"),
            folder(0, "Beta"),
            memo(1, "Beta note"),
            folder(0, "Gamma"),
            folder(0, "Delta"),
            memo(1, "Delta note"),
        ],
    )
    .await?;
    board.sign_in("admin").await?;
    board.goto(&format!("/#/s/{id}")).await?;
    board.wait_rows().await?;
    board
        .wait_for_rows("every folder open", |rows| {
            rows.len() == 6 && named(rows, "Delta").is_some_and(Row::is_expanded)
        })
        .await?;

    board.drag("Delta", "Gamma", "into").await?;
    board
        .wait_for_rows("Delta moved into Gamma, still open", |rows| {
            named(rows, "Delta").is_some_and(|r| r.level == 2 && r.is_expanded())
                && named(rows, "Delta note").is_some_and(|r| r.level == 3)
        })
        .await?;
    board.wait_announced("Moved 1 row").await?;

    board.row_element("Beta").await?.click().await?;
    board
        .press(&[Key::Control.into(), Key::Right.into()])
        .await?;
    board
        .wait_for_rows("Beta indented under Alpha, still open", |rows| {
            named(rows, "Beta").is_some_and(|r| r.level == 2 && r.is_expanded())
                && named(rows, "Beta note").is_some_and(|r| r.level == 3)
        })
        .await?;
    board.wait_announced("Indented 1 row").await?;
    Ok(())
}

/// Item 6: the Export menu closes after a download is chosen, on a click elsewhere, and on Escape.
pub(crate) async fn export_menu_closes(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;
    let summary = "//details[contains(@class, 'menu')]/summary[normalize-space()='Export']";
    let is_open = || async {
        board
            .js(
                "return document.querySelector('details.menu').open;",
                vec![],
            )
            .await
    };
    let open = || async {
        board
            .find("the Export menu", summary)
            .await?
            .click()
            .await?;
        board
            .wait(
                "the Export menu open",
                "return document.querySelector('details.menu').open;",
                vec![],
            )
            .await?;
        Ok::<(), anyhow::Error>(())
    };

    open().await?;
    board.click_button("JSON (ids and configuration)").await?;
    board
        .wait(
            "the menu closed after a download",
            "return !document.querySelector('details.menu').open;",
            vec![],
        )
        .await?;

    open().await?;
    mouse_click(
        board,
        board
            .find("the board's title", "//h1[@class='board-title']")
            .await?,
    )
    .await?;
    board
        .wait(
            "the menu closed by a click elsewhere",
            "return !document.querySelector('details.menu').open;",
            vec![],
        )
        .await?;

    open().await?;
    board.press(&[Key::Escape.into()]).await?;
    board
        .wait(
            "the menu closed by Escape",
            "return !document.querySelector('details.menu').open;",
            vec![],
        )
        .await?;
    ensure!(is_open().await? == json!(false), "closed");
    let focus = board
        .js("return document.activeElement?.textContent;", vec![])
        .await?;
    ensure!(
        focus == json!("Export"),
        "the focus is back on the menu's button: {focus}"
    );
    Ok(())
}

/// Item 6: once a structure opens, the keyboard focus is on the grid's first row, and the arrows work at once.
pub(crate) async fn opened_structure_focuses_the_grid(board: &Board) -> Result {
    board.sign_in("admin").await?;
    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;
    let rows = board
        .wait_for_rows("the first row focused", |rows| {
            rows.iter().any(|r| r.focused && r.index == 2)
        })
        .await?;
    ensure!(
        !rows.iter().any(|r| r.selected),
        "focusing the grid selects nothing"
    );
    board.press(&[Key::Down.into()]).await?;
    board
        .wait_for_rows("Down moves to the second row", |rows| {
            rows.iter().any(|r| r.focused && r.index == 3)
        })
        .await?;
    Ok(())
}

/// Item 6: a new permission rule shows no error before anything is typed or saved; saving is confirmed.
pub(crate) async fn permission_rules_start_clean_and_saving_is_confirmed(board: &Board) -> Result {
    const LAST_RULE: &str = "(//dialog[@open])[last()]//tbody/tr[last()]";
    board.sign_in("admin").await?;
    board.create_structure("Shared plan", "").await?;
    board.click_button("Permissions…").await?;
    board.click_button("Add rule").await?;
    board
        .find(
            "the new rule",
            &format!("{LAST_RULE}//input[@aria-label='Person']"),
        )
        .await?;
    let said = board
        .js(
            "const rows = document.querySelectorAll('dialog[open] tbody tr');
             const rule = rows[rows.length - 1];
             return [rule.querySelector('.combobox-status').textContent,
                     rule.querySelectorAll('.error-text, [aria-invalid=true]').length,
                     document.querySelector('dialog[open] .dialog-error').hidden];",
            vec![],
        )
        .await?;
    ensure!(
        said == json!(["", 0, true]),
        "the new rule says nothing yet: {said}"
    );
    // Saved without a person: now it says what is missing.
    board.click_button("Save rules").await?;
    board
        .wait(
            "the dialog to say what is missing",
            "const e = document.querySelector('dialog[open] .dialog-error');
             return e && !e.hidden && e.textContent.includes('Rule 1: choose a person');",
            vec![],
        )
        .await?;
    board
        .find(
            "the rule's grantee",
            &format!("{LAST_RULE}//select[@aria-label='Who']"),
        )
        .await?
        .select_by_value("everyone")
        .await?;
    board.click_button("Save rules").await?;
    board.wait_no_dialog().await?;
    board
        .wait_announced("Saved the rule: who may use “Shared plan” changed.")
        .await?;
    Ok(())
}

/// Item 6: a formula column is named when added, and its name and formula are edited in place, with the same
/// check as it is typed.
pub(crate) async fn formula_columns_are_named_and_edited_in_place(board: &Board) -> Result {
    let admin = api(board).await?;
    let id = create_with_rows(
        &admin,
        "Formulas",
        vec![json!({"depth": 0, "item": {"folder": "Only"}})],
    )
    .await?;
    board.sign_in("admin").await?;
    board.goto(&format!("/#/s/{id}")).await?;
    board.wait_rows().await?;

    board.click_button("Columns…").await?;
    board
        .dialog_field("Kind")
        .await?
        .select_by_value("formula")
        .await?;
    board
        .dialog_field("Name (optional)")
        .await?
        .send_keys("Two")
        .await?;
    board
        .dialog_field("Formula")
        .await?
        .send_keys("1 + 1")
        .await?;
    board.check_result(true).await?;
    board.click_button("Add column").await?;
    board.click_button("Apply").await?;
    board.wait_no_dialog().await?;
    let at = board.column("Two").await?;
    board
        .wait_for_rows("the named column's value", |rows| {
            rows.first()
                .is_some_and(|r| r.cells.get(at).is_some_and(|c| c == "2"))
        })
        .await?;

    // Edited in place: renamed, and its formula changed — checked as it is typed, an error first.
    board.click_button("Columns…").await?;
    board
        .find(
            "the column's Edit button",
            "(//dialog[@open])[last()]//button[@aria-label='Edit Two']",
        )
        .await?
        .click()
        .await?;
    let name = board.dialog_field("Column name").await?;
    board.type_into(&name, "Three").await?;
    let formula = board.dialog_field("Formula").await?;
    ensure!(
        formula.prop("value").await?.as_deref() == Some("1 + 1"),
        "the editor starts from the column's formula"
    );
    board.type_into(&formula, "1 +").await?;
    board.check_result(false).await?;
    board.type_into(&formula, "1 + 2").await?;
    let (message, _) = board.check_result(true).await?;
    ensure!(message == "Valid formula", "{message}");
    board.click_button("Done").await?;
    board
        .find(
            "the renamed column in the list",
            "(//dialog[@open])[last()]//span[@class='column-list-title' and normalize-space()='Three']",
        )
        .await?;
    board.click_button("Apply").await?;
    board.wait_no_dialog().await?;
    let at = board.column("Three").await?;
    ensure!(
        !board.headers().await?.iter().any(|h| h == "Two"),
        "the old name is gone"
    );
    board
        .wait_for_rows("the edited column's value", |rows| {
            rows.first()
                .is_some_and(|r| r.cells.get(at).is_some_and(|c| c == "3"))
        })
        .await?;
    Ok(())
}
