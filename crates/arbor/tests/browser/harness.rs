//! What every scenario needs: chromedriver and one headless Chromium session (`arbor_bench::browser`) against
//! one `arbor demo`, bounded waits that say what the page showed when they give up, and a screenshot per
//! scenario in `target/browser-screenshots/`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use arbor::demo::{self, Demo, DemoOptions};
use arbor_bench::browser::Chromedriver;
pub(crate) use arbor_bench::browser::Scheme;
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction,
};
use fantoccini::elements::Element;
pub(crate) use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

pub(crate) type Result<T = ()> = anyhow::Result<T>;

/// How long any one thing may take to show up on the page.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// A whole scenario, so that a stuck one still leaves a screenshot before the test runner's own limit.
const SCENARIO: Duration = Duration::from_secs(150);

/// `target/browser-screenshots`: the test executable lives in `<target>/debug/deps/`, wherever
/// `CARGO_TARGET_DIR` put it.
fn screenshot_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
    });
    from_exe
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("browser-screenshots")
}

/// One scenario: a demo, a browser on it, and where its screenshots go.
pub(crate) struct Board {
    pub(crate) demo: Demo,
    pub(crate) client: Client,
    name: &'static str,
    driver: Chromedriver,
    // The demo's data and Chromium's profile; removed last.
    dir: tempfile::TempDir,
}

/// Starts the demo and a browser for scenario `name`, runs `scenario`, takes the screenshot, stops everything,
/// and fails the test with what went wrong. Without `ARBOR_TEST_CHROMIUM` and `ARBOR_TEST_CHROMEDRIVER`
/// it says SKIPPED and passes.
pub(crate) async fn run<F>(name: &'static str, scenario: F)
where
    F: for<'a> FnOnce(&'a Board) -> std::pin::Pin<Box<dyn Future<Output = Result> + 'a>>,
{
    run_in(name, Scheme::System, scenario).await;
}

/// [`run`], with pages in `scheme`.
pub(crate) async fn run_in<F>(name: &'static str, scheme: Scheme, scenario: F)
where
    F: for<'a> FnOnce(&'a Board) -> std::pin::Pin<Box<dyn Future<Output = Result> + 'a>>,
{
    let (Some(chromium), Some(chromedriver)) = (
        std::env::var("ARBOR_TEST_CHROMIUM")
            .ok()
            .filter(|v| !v.is_empty()),
        std::env::var("ARBOR_TEST_CHROMEDRIVER")
            .ok()
            .filter(|v| !v.is_empty()),
    ) else {
        eprintln!(
            "SKIPPED: browser scenario {name}: ARBOR_TEST_CHROMIUM and ARBOR_TEST_CHROMEDRIVER are not set \
             (scripts/test sets them when Debian's chromium and chromium-driver are installed)"
        );
        return;
    };
    let started = Instant::now();
    let board = match Board::start(name, &chromium, &chromedriver, scheme).await {
        Ok(board) => board,
        Err(e) => panic!("{name}: could not start the demo and the browser: {e:#}"),
    };
    let outcome = match tokio::time::timeout(SCENARIO, scenario(&board)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow!("the scenario did not finish within {SCENARIO:?}")),
    };
    let outcome = match outcome {
        Ok(()) => {
            // A failure's screenshot from an earlier run would no longer be true.
            let _ = std::fs::remove_file(screenshot_dir().join(format!("{name}-failed.png")));
            board.screenshot(name).await
        }
        Err(e) => {
            let page = board.page_text().await;
            let _ = board.screenshot(&format!("{name}-failed")).await;
            Err(anyhow!("{e:#}\n---- the page showed ----\n{page}"))
        }
    };
    board.stop().await;
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    if let Err(e) = outcome {
        panic!("{name}: {e:#}");
    }
}

impl Board {
    async fn start(
        name: &'static str,
        chromium: &str,
        chromedriver: &str,
        scheme: Scheme,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let demo = demo::start(&DemoOptions {
            data_dir: dir.path().join("demo"),
            port: 0,
            tidev: demo::default_tidev(),
        })
        .await?;
        let driver = Chromedriver::start(chromedriver, &dir.path().join("tmp"))?;
        let client = driver
            .session(chromium, &dir.path().join("chromium"), scheme)
            .await?;
        Ok(Self {
            demo,
            client,
            name,
            driver,
            dir,
        })
    }

    async fn stop(self) {
        let Self {
            demo,
            client,
            driver,
            dir,
            ..
        } = self;
        let _ = client.close().await;
        drop(driver);
        let _ = demo.stop().await;
        drop(dir);
    }

    pub(crate) async fn screenshot(&self, file: &str) -> Result {
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{file}.png"));
        std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// The page as a person reads it, for failure messages: the address and the text (dialogs included).
    pub(crate) async fn page_text(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "(no text)".into());
        let text: String = text.chars().take(2000).collect();
        format!("[{url}] ({})\n{text}", self.name)
    }

    // ---- Navigation and waiting ------------------------------------------------------------------------

    /// Goes to a path of the demo, e.g. `/` or `/#/s/3`.
    pub(crate) async fn goto(&self, path: &str) -> Result {
        let url = self.demo.url.join(path)?;
        self.client.goto(url.as_str()).await?;
        Ok(())
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) until it returns something truthy, and
    /// returns that. Gives up after [`WAIT`] with `what` and the last value.
    pub(crate) async fn wait(&self, what: &str, script: &str, args: Vec<Value>) -> Result<Value> {
        let started = Instant::now();
        let mut last;
        loop {
            let value = self.client.execute(script, args.clone()).await;
            match value {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(value) => last = value.to_string(),
                Err(e) => last = format!("error: {e}"),
            }
            if started.elapsed() > WAIT {
                bail!("waited {WAIT:?} for {what}; last answer: {last}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` once and returns its value.
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Waits until an element matching `xpath` is displayed and returns it.
    pub(crate) async fn find(&self, what: &str, xpath: &str) -> Result<Element> {
        let started = Instant::now();
        loop {
            if let Ok(found) = self.client.find_all(Locator::XPath(xpath)).await {
                for element in found {
                    if element.is_displayed().await.unwrap_or(false) {
                        return Ok(element);
                    }
                }
            }
            if started.elapsed() > WAIT {
                bail!("waited {WAIT:?} for {what} ({xpath})");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks a button (or link) with this text once it is displayed and enabled: in the open dialog on top
    /// when one is open, else anywhere.
    pub(crate) async fn click_button(&self, label: &str) -> Result {
        let text = xpath_literal(label);
        let xpath = format!(
            "(//dialog[@open])[last()]//*[(self::button or self::a) and normalize-space()={text} and not(@disabled)]\
             | //body[not(.//dialog[@open])]//*[(self::button or self::a) and normalize-space()={text} and not(@disabled)]"
        );
        self.find(&format!("the button “{label}”"), &xpath)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking “{label}”"))?;
        Ok(())
    }

    /// The form control labelled `label` in the open dialog on top (a `<label class="field">` around it).
    pub(crate) async fn dialog_field(&self, label: &str) -> Result<Element> {
        let xpath = format!(
            "(//dialog[@open])[last()]//label[span[@class='field-label' and normalize-space()={}]]\
             //*[self::input or self::textarea or self::select]",
            xpath_literal(label)
        );
        self.find(&format!("the field “{label}”"), &xpath).await
    }

    /// Replaces what a text field holds by typing `text` into it.
    pub(crate) async fn type_into(&self, field: &Element, text: &str) -> Result {
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    /// Presses a chord on whatever has the keyboard focus: every key down in order, then up in reverse.
    pub(crate) async fn press(&self, keys: &[char]) -> Result {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys {
            actions = actions.then(KeyAction::Down { value: *key });
        }
        for key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up { value: *key });
        }
        self.client.perform_actions(actions).await?;
        self.client.release_actions().await?;
        Ok(())
    }

    // ---- Signing in and the board ----------------------------------------------------------------------

    /// Logs out with the header's button and waits for the signed-out page.
    pub(crate) async fn log_out(&self) -> Result {
        self.click_button("Log out").await?;
        self.find(
            "the signed-out page",
            "//p[normalize-space()='You are signed out.']",
        )
        .await?;
        Ok(())
    }

    /// Signs in from the start page through the simulator's consent page, the way a person clicks through
    /// it, and waits for the structure list.
    pub(crate) async fn sign_in(&self, person: &str) -> Result {
        self.goto("/").await?;
        self.click_button("Sign in with Atlassian").await?;
        self.find(
            "the simulator's sign-in page",
            "//h1[starts-with(normalize-space(), 'Sign in to')]",
        )
        .await?;
        let listed = format!(
            "//button[@name='account' and @value={}]",
            xpath_literal(person)
        );
        if let Ok(button) = self.client.find(Locator::XPath(&listed)).await {
            button.click().await?;
        } else {
            let other = self
                .find("the user name field", "//input[@name='other']")
                .await?;
            other.send_keys(person).await?;
            self.click_button("Sign in").await?;
        }
        self.wait_list().await
    }

    /// Waits for the structure list to have loaded.
    pub(crate) async fn wait_list(&self) -> Result {
        self.wait(
            "the structure list",
            "const h = document.querySelector('main h1');
             const lists = document.querySelector('.structure-lists');
             return h && h.textContent === 'Structures' && lists && !lists.textContent.startsWith('Loading');",
            vec![],
        )
        .await?;
        Ok(())
    }

    /// Names of the structures listed, in order.
    pub(crate) async fn listed_structures(&self) -> Result<Vec<String>> {
        let names = self
            .js(
                "return [...document.querySelectorAll('.structure-name')].map((a) => a.textContent);",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(names)?)
    }

    /// Opens the listed structure named `name` by clicking it, and waits for its rows.
    pub(crate) async fn open_structure(&self, name: &str) -> Result {
        self.wait_list().await?;
        let link = format!(
            "//a[@class='structure-name' and normalize-space()={}]",
            xpath_literal(name)
        );
        self.find(&format!("the structure “{name}”"), &link)
            .await?
            .click()
            .await?;
        self.wait(
            "the board's title",
            "const h = document.querySelector('.board-title'); return h && h.textContent === arguments[0];",
            vec![json!(name)],
        )
        .await?;
        self.wait_rows().await
    }

    /// Waits until the grid shows rows (or says it is empty) and nothing is loading.
    pub(crate) async fn wait_rows(&self) -> Result {
        self.wait(
            "the grid's rows",
            "const rows = document.querySelectorAll('.grid-body > [role=row]');
             const busy = document.querySelector('.grid-body > [aria-busy=true]');
             const overlay = document.querySelector('.grid-overlay');
             const loading = document.querySelector('.status-bar .muted');
             if (loading && !loading.hidden) return false;
             return (rows.length > 0 && !busy) || (overlay && !overlay.hidden && overlay.textContent.includes('empty'));",
            vec![],
        )
        .await?;
        Ok(())
    }

    /// The rows in the DOM, top to bottom, as assistive technology reads them.
    pub(crate) async fn rows(&self) -> Result<Vec<Row>> {
        let rows = self
            .js(
                "return [...document.querySelectorAll('.grid-body > [role=row]')]
                   .map((r) => ({
                     index: Number(r.getAttribute('aria-rowindex')),
                     level: Number(r.getAttribute('aria-level') || 0),
                     expanded: r.getAttribute('aria-expanded'),
                     selected: r.getAttribute('aria-selected') === 'true',
                     focused: document.activeElement === r,
                     key: r.querySelector('.issue-key')?.textContent ?? null,
                     title: r.querySelector('.title')?.textContent ?? '',
                     // What is read out: marks hidden from assistive technology are left out.
                     cells: [...r.querySelectorAll('[role=gridcell]')].slice(1).map((c) => {
                       const copy = c.cloneNode(true);
                       copy.querySelectorAll('[aria-hidden=true]').forEach((e) => e.remove());
                       return copy.textContent;
                     }),
                   }))
                   .sort((a, b) => a.index - b.index);",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(rows)?)
    }

    /// The status bar's text ("1,234 rows", "5 issues hidden", ...).
    pub(crate) async fn status(&self) -> Result<String> {
        let text = self
            .js(
                "return document.querySelector('.status-bar')?.innerText ?? '';",
                vec![],
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The grid's `aria-rowcount` less the header row: how many rows the structure shows in all.
    pub(crate) async fn total_rows(&self) -> Result<u64> {
        let count = self
            .js(
                "return Number(document.querySelector('[role=treegrid]').getAttribute('aria-rowcount')) - 1;",
                vec![],
            )
            .await?;
        count.as_u64().context("aria-rowcount is a number")
    }

    /// Waits until the board announces `text` (its toast, read out by screen readers).
    pub(crate) async fn wait_announced(&self, text: &str) -> Result {
        self.wait(
            &format!("the announcement “{text}”"),
            "return document.getElementById('announce').textContent.includes(arguments[0]);",
            vec![json!(text)],
        )
        .await?;
        Ok(())
    }

    // ---- Structures, rows and dialogs ------------------------------------------------------------------

    /// Creates a structure through the list's dialog and waits for its (empty) board.
    pub(crate) async fn create_structure(&self, name: &str, description: &str) -> Result {
        self.wait_list().await?;
        self.click_button("Create structure").await?;
        let field = self.dialog_field("Name").await?;
        field.send_keys(name).await?;
        if !description.is_empty() {
            self.dialog_field("Description (optional)")
                .await?
                .send_keys(description)
                .await?;
        }
        self.click_button("Create").await?;
        self.wait(
            "the new structure's board",
            "const h = document.querySelector('.board-title');
             const overlay = document.querySelector('.grid-overlay');
             return h && h.textContent === arguments[0] && overlay && !overlay.hidden
               && overlay.textContent.includes('This structure is empty.');",
            vec![json!(name)],
        )
        .await?;
        Ok(())
    }

    /// Adds rows through the Add dialog: `what` is `issue`, `folder` or `memo`; `place` one of the Where
    /// options (`end`, `start`, `after`, `under`).
    pub(crate) async fn add_rows(&self, what: &str, content: &str, place: &str) -> Result {
        let before = self.total_rows().await?;
        self.click_button("Add…").await?;
        self.dialog_field("What")
            .await?
            .select_by_value(what)
            .await?;
        let text = self
            .find(
                "the content field",
                "(//dialog[@open])[last()]//label[span[normalize-space()='Content']]/textarea",
            )
            .await?;
        text.send_keys(content).await?;
        self.dialog_field("Where")
            .await?
            .select_by_value(place)
            .await?;
        self.click_button("Add").await?;
        self.wait_no_dialog().await?;
        self.wait(
            "the added rows",
            "return Number(document.querySelector('[role=treegrid]').getAttribute('aria-rowcount')) - 1 > arguments[0];",
            vec![json!(before)],
        )
        .await?;
        self.wait_rows().await
    }

    /// Waits until no dialog is open.
    pub(crate) async fn wait_no_dialog(&self) -> Result {
        self.wait(
            "every dialog to close",
            "return !document.querySelector('dialog[open]');",
            vec![],
        )
        .await?;
        Ok(())
    }

    /// Waits until the rows satisfy `check`, and returns them; on timeout, says `what` and shows the rows.
    pub(crate) async fn wait_for_rows(
        &self,
        what: &str,
        check: impl Fn(&[Row]) -> bool,
    ) -> Result<Vec<Row>> {
        let started = Instant::now();
        loop {
            let rows = self.rows().await?;
            if check(&rows) {
                return Ok(rows);
            }
            if started.elapsed() > WAIT {
                let shown: Vec<String> = rows.iter().map(Row::describe).collect();
                bail!(
                    "waited {WAIT:?} for {what}; the rows were:\n{}",
                    shown.join("\n")
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Chooses an entry of the toolbar's "Expand…" menu: `1` shows level 1 only, `1000` every level.
    pub(crate) async fn show_levels(&self, value: &str) -> Result {
        self.find(
            "the Expand menu",
            "//select[@aria-label='Expand all to level']",
        )
        .await?
        .select_by_value(value)
        .await?;
        self.wait_rows().await
    }

    /// Clicks the expand/collapse triangle of the row at `aria-rowindex` `index`.
    pub(crate) async fn click_twisty(&self, index: u64) -> Result {
        self.find(
            &format!("the triangle of row {index}"),
            &format!(
                "//div[@role='row' and @aria-rowindex='{index}']//span[@data-action='toggle']"
            ),
        )
        .await?
        .click()
        .await?;
        Ok(())
    }

    /// The grid's column headings, the tree column first.
    pub(crate) async fn headers(&self) -> Result<Vec<String>> {
        let names = self
            .js(
                "return [...document.querySelectorAll('.grid-head [role=columnheader]')].map((c) => c.textContent);",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(names)?)
    }

    /// Waits for a data column titled `title` and returns its position in [`Row::cells`].
    pub(crate) async fn column(&self, title: &str) -> Result<usize> {
        let started = Instant::now();
        loop {
            let headers = self.headers().await?;
            if let Some(at) = headers.iter().position(|h| h == title) {
                // Row::cells leaves out the tree column.
                return at
                    .checked_sub(1)
                    .context("a data column, not the tree column");
            }
            if started.elapsed() > WAIT {
                bail!("waited {WAIT:?} for the column “{title}”; the headings were {headers:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the check under a JQL or formula field of the dialog on top, once it has answered
    /// (`ok` says whether it reports the text as valid), with the caret line when there is one.
    pub(crate) async fn check_result(&self, ok: bool) -> Result<(String, Option<String>)> {
        let found = self
            .wait(
                if ok { "the check to say valid" } else { "the check to show an error" },
                "const dialogs = document.querySelectorAll('dialog[open]');
                 const check = dialogs[dialogs.length - 1]?.querySelector('.check');
                 const shown = check?.querySelector(arguments[0] ? '.check-ok' : '.error-text');
                 if (!shown) return null;
                 return [shown.textContent, check.querySelector('.check-line')?.textContent ?? null];",
                vec![json!(ok)],
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }

    /// The row element named `name` (issue key, or title).
    pub(crate) async fn row_element(&self, name: &str) -> Result<Element> {
        let text = xpath_literal(name);
        self.find(
            &format!("the row “{name}”"),
            &format!(
                "//div[@role='row' and .//span[(@class='issue-key' or starts-with(@class, 'title')) and normalize-space()={text}]]"
            ),
        )
        .await
    }

    /// Drags the row named `from` onto the row named `to` with the mouse: `zone` is `before`, `into` or
    /// `after`, as the height at which it is dropped says (the top, middle or bottom of the row).
    ///
    /// A real HTML5 drag: chromedriver's pointer actions make Chromium start a drag session once the button
    /// is down and the pointer moves; the pointer then has to move over the target a few times before it is
    /// released for Chromium to deliver `dragover` there and then `drop`.
    pub(crate) async fn drag(&self, from: &str, to: &str, zone: &str) -> Result {
        let source = self.row_element(from).await?;
        let target = self.row_element(to).await?;
        ensure!(
            source.attr("draggable").await?.as_deref() == Some("true"),
            "the row “{from}” can be dragged"
        );
        let (_, _, _, height) = target.rectangle().await?;
        // Offsets from the row's middle.
        let y = match zone {
            "before" => 3.0 - height / 2.0,
            "after" => height / 2.0 - 3.0,
            _ => 0.0,
        };
        let step = Some(Duration::from_millis(20));
        let mut mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: source,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        // Far enough to start a drag.
        for _ in 0..4 {
            mouse = mouse.then(PointerAction::MoveBy {
                duration: step,
                x: 4.0,
                y: 0.0,
            });
        }
        mouse = mouse.then(PointerAction::MoveToElement {
            element: target,
            duration: Some(Duration::from_millis(100)),
            x: 0.0,
            y,
        });
        // Over the target, so that it sees dragover and accepts the drop.
        for _ in 0..4 {
            mouse = mouse.then(PointerAction::MoveBy {
                duration: step,
                x: 2.0,
                y: 0.0,
            });
        }
        mouse = mouse.then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.client.perform_actions(mouse).await?;
        self.client.release_actions().await?;
        Ok(())
    }
}

/// One row of the grid as read from the DOM.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Row {
    /// `aria-rowindex`: 2 for the first row under the header.
    pub(crate) index: u64,
    pub(crate) level: u64,
    pub(crate) expanded: Option<String>,
    pub(crate) selected: bool,
    pub(crate) focused: bool,
    pub(crate) key: Option<String>,
    pub(crate) title: String,
    pub(crate) cells: Vec<String>,
}

impl Row {
    /// The issue key, or the title for folders and memos.
    pub(crate) fn name(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.title)
    }

    /// One line for failure messages: index, level, expansion, name and cells.
    pub(crate) fn describe(&self) -> String {
        format!(
            "#{} level {} {}{}{} {} {:?}",
            self.index,
            self.level,
            self.expanded
                .as_deref()
                .map_or("", |e| if e == "true" { "▾ " } else { "▸ " }),
            if self.selected { "[selected] " } else { "" },
            if self.focused { "[focused] " } else { "" },
            self.name(),
            self.cells
        )
    }

    pub(crate) fn is_expanded(&self) -> bool {
        self.expanded.as_deref() == Some("true")
    }

    pub(crate) fn is_collapsed(&self) -> bool {
        self.expanded.as_deref() == Some("false")
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A string as an XPath literal (XPath 1.0 has no escapes: quotes are joined with concat()).
pub(crate) fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}
