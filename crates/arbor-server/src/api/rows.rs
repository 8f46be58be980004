//! The effective forest: windows of rows with column values, "refresh now", and exports.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arbor_core::columns::{Column, ColumnValues, View};
use arbor_core::data::{FieldId, FieldValue};
use arbor_core::effective::{EffectiveForest, EffectiveItem, Source};
use arbor_core::forest::ItemRef;
use arbor_core::generator::Generator;
use arbor_core::permission::Level;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::config::{seen_view, sees_view, view_columns};
use super::{Access, Body, Param, Query, assist, authorize, load_generators, shown};
use crate::audit;
use crate::compute;
use crate::content;
use crate::error::{ApiError, ApiResult};
use crate::export;
use crate::session::Caller;
use crate::state::{AppState, jira_tenant};
use arbor_jira::cache::MetaKind;
use arbor_jira::client::Credentials;

/// The largest window one request may ask for.
const MAX_WINDOW: usize = 2000;

/// Which rows are expanded: every row shallower than `depth`, plus `open`, minus `closed` (row keys).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Expansion {
    #[serde(default = "one")]
    pub depth: u16,
    #[serde(default)]
    pub open: Vec<String>,
    #[serde(default)]
    pub closed: Vec<String>,
}

fn one() -> u16 {
    1
}

/// A window of the effective forest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    /// A saved view's id; the default columns when absent (unless `columns` is given).
    pub view: Option<u64>,
    /// Columns to show instead of a saved view's (an unsaved view being edited).
    #[schema(value_type = Option<Vec<Object>>)]
    pub columns: Option<Vec<Column>>,
    #[serde(default)]
    pub expand: Expansion,
    /// The first row of the window, counted among the rows shown under the expansion.
    #[serde(default)]
    pub offset: usize,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    200
}

/// One cell: `null` when empty, a string when there is only text to show, else [`DetailedCell`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Detailed(DetailedCell),
}

/// A cell with the number behind its text, its status category or a formula's error.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailedCell {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
    /// `new`, `indeterminate` or `done` for statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A formula's error, shown in its cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Present (`true`) while the value waits for rows below its row that are still being read (see
    /// [`Window::loading`]); `text` is then "…".
    #[serde(skip_serializing_if = "is_false")]
    pub pending: bool,
}

impl Cell {
    fn new(text: String, number: Option<f64>, category: Option<String>) -> Self {
        if number.is_none() && category.is_none() {
            Self::Text(text)
        } else {
            Self::Detailed(DetailedCell {
                text,
                number,
                category,
                error: None,
                pending: false,
            })
        }
    }
}

/// One row of a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowRow {
    /// Stable across recomputations; used for expansion.
    pub key: String,
    /// The stored row (manual rows only): the row to name in edits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The generator that produced it (generated rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<u64>,
    pub depth: u16,
    /// `issue`, `folder`, `memo` or `group`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_key: Option<String>,
    /// The issue's summary, the folder's name, the memo's text or the group's label.
    pub title: String,
    /// Present (`true`) only for rows with rows below them.
    #[serde(skip_serializing_if = "is_false")]
    pub has_children: bool,
    /// How many rows are below this one (its whole subtree as you see it, generated rows included, whatever
    /// is expanded): what goes with it when it is removed. Present only for rows with rows below them, once
    /// those are read (absent from a `loading` answer's rows that wait for unread rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_below: Option<usize>,
    /// One per column, `null` where empty.
    pub cells: Vec<Option<Cell>>,
    /// Present only for rows with rows below them. Last, so that a row serialised once (as not expanded) is
    /// marked expanded by changing its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expanded: Option<bool>,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// How old the Jira data behind an answer is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// Age of the oldest Jira value used, in milliseconds (`null` when no Jira data was needed).
    pub data_age_ms: Option<u64>,
    /// Some data is older than its TTL: Jira was unreachable or throttled and earlier data was served.
    pub stale: bool,
    /// Milliseconds since this forest was computed.
    pub computed_ms_ago: u64,
    /// Jira requests made to compute it.
    pub jira_requests: u64,
}

/// What a generator cost in the last run.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratorRun {
    pub id: u64,
    pub elapsed_ms: f64,
    pub rows_added: usize,
    pub rows_removed: usize,
}

/// A window of rows, with everything needed to show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    pub version: u64,
    /// Column titles, in order.
    pub columns: Vec<String>,
    /// Rows shown under the expansion (what the scroll bar spans).
    pub total: usize,
    /// Rows of the whole effective forest you may see.
    pub visible_rows: usize,
    /// Present (`true`) on a first answer given while the structure's issues are still being read: it holds
    /// the window's rows; `total` and `visible_rows` count every row of the structure as shown (whatever the
    /// expansion) and `hidden` is 0 — both are told by the whole answer —, and the totals, progress and
    /// formulas of rows with rows still unread below them are pending. Asking again answers in full once
    /// every issue is read.
    #[serde(skip_serializing_if = "is_false")]
    pub loading: bool,
    /// Issue rows withheld because Jira does not show them to you.
    pub hidden: usize,
    pub offset: usize,
    pub freshness: Freshness,
    pub generators: Vec<GeneratorRun>,
    /// Set when the generators' time budget ran out: the generator that was running; the result is partial.
    pub stopped_at: Option<u64>,
    /// Last: the rows, serialised once per computed forest ([`compute::Encoded`]), are spliced in here.
    #[schema(value_type = Vec<WindowRow>)]
    pub rows: SplicedRows,
}

/// Serialised as `[]`, which the window's rows then replace.
#[derive(Debug)]
pub struct SplicedRows;

impl Serialize for SplicedRows {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(std::iter::empty::<()>())
    }
}

/// How a serialised [`Window`] ends before its rows are spliced in.
const EMPTY_ROWS_END: &[u8] = b"\"rows\":[]}";

/// The columns of a request: given ones, a saved view's, or the default view.
async fn chosen_columns(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    view: Option<u64>,
    given: Option<Vec<Column>>,
) -> ApiResult<Vec<Column>> {
    if let Some(columns) = given {
        if columns.len() > 100 {
            return Err(ApiError::bad_request("a view has at most 100 columns"));
        }
        for (index, column) in columns.iter().enumerate() {
            column
                .validate()
                .map_err(|e| ApiError::bad_request(format!("column {}: {e}", index + 1)))?;
        }
        return Ok(columns);
    }
    let Some(view) = view else {
        return Ok(View::default_columns());
    };
    let (vid, saved) = seen_view(state, caller, access.meta.id, view).await?;
    view_columns(vid, &saved.config)
}

/// Computes (or reuses) the caller's effective forest of a structure with these columns; with `first_rows`,
/// possibly only the first rows while the rest are still being read ([`compute::forest`]).
async fn computed(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    columns: &[Column],
    first_rows: Option<Box<dyn compute::FirstRows>>,
) -> ApiResult<Arc<compute::Result>> {
    let wanted = compute::Wanted {
        tenant: caller.tenant,
        structure: access.meta.id,
        version: access.meta.version,
        columns,
    };
    compute::forest(
        state,
        &access.who,
        &caller.account,
        wanted,
        first_rows,
        || async {
            let generators = load_generators(state, caller, access.meta.id).await?;
            let forest = {
                let guard = content::lock(state, caller.tenant, &access.meta).await?;
                guard
                    .as_ref()
                    .map(|loaded| loaded.content.forest().clone())
                    .unwrap_or_default()
            };
            let forest = without_unknown_generators(forest, &generators);
            let mut inserted = HashMap::new();
            for generator in generators.values() {
                if let Generator::InsertStructure { structure_id } = generator {
                    inserted.insert(
                        *structure_id,
                        Box::pin(inserted_rows(state, caller, *structure_id)).await?,
                    );
                }
            }
            Ok(compute::Request {
                forest,
                generators,
                inserted,
            })
        },
    )
    .await
    .map_err(|error| shown::error_for(error, access.level))
}

/// The forest without generator rows whose configuration is gone (a removal undone, an old version
/// restored): they run nowhere, rather than failing the whole structure.
fn without_unknown_generators(
    forest: arbor_core::forest::Forest,
    generators: &HashMap<arbor_core::ids::GeneratorId, Generator>,
) -> arbor_core::forest::Forest {
    let unknown =
        |item: &ItemRef<'_>| matches!(item, ItemRef::Generator(g) if !generators.contains_key(g));
    if !forest.iter().any(|row| unknown(&row.item)) {
        return forest;
    }
    let kept = forest
        .iter()
        .filter(|row| !unknown(&row.item) || !forest.is_leaf(row.pos))
        .map(arbor_core::forest::RowRef::to_row);
    arbor_core::forest::Forest::from_rows(kept.collect::<Vec<_>>()).unwrap_or(forest)
}

/// The issue rows of another structure, if the caller may view it (else none).
async fn inserted_rows(
    state: &AppState,
    caller: &Caller,
    raw: u64,
) -> ApiResult<Vec<(arbor_core::ids::IssueId, u32)>> {
    match authorize(state, caller, raw, Level::View, "structure.read").await {
        Ok(other) => {
            let guard = content::lock(state, caller.tenant, &other.meta).await?;
            Ok(guard
                .as_ref()
                .map(|l| compute::issue_rows(l.content.forest()))
                .unwrap_or_default())
        }
        // Gone, not shared with the caller, or not a structure id at all: it inserts nothing.
        Err(error)
            if matches!(
                error.status,
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ) =>
        {
            Ok(Vec::new())
        }
        Err(error) => Err(error),
    }
}

/// The titles of a computed forest's columns, made the first time they are asked for.
async fn titles(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    result: &compute::Result,
) -> Vec<String> {
    if let Some(titles) = result.titles.get() {
        return titles.clone();
    }
    let titles = column_titles(state, caller, who, &result.columns).await;
    result.titles.get_or_init(|| titles).clone()
}

/// The columns' titles, with the site's field names ("Sum of Story point estimate"), also where a column
/// names a formula variable (`story_points`) rather than a field id. Should Jira not list its fields, field
/// ids (variables in words) stand in: a title is not worth failing a window or an export for.
async fn column_titles(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    columns: &[Column],
) -> Vec<String> {
    let fields = match assist::site_list(state, caller, who, MetaKind::Fields).await {
        Ok(fields) => fields,
        Err(error) => {
            tracing::warn!(detail = %error.detail, "field names unavailable; column titles show field ids");
            Vec::new()
        }
    };
    let bindings = state.site(caller.tenant).map(compute::bindings);
    // A field's name; totals name a field or a formula variable (`story_points` → the site's story point
    // field).
    let name = |field: &str| {
        let id = bindings
            .as_ref()
            .and_then(|b| b.field_for(field))
            .map_or_else(|| field.to_owned(), |id| id.as_str().to_owned());
        fields
            .iter()
            .find(|f| f.id == field || f.id == id)
            .map_or_else(|| field.replace('_', " "), |f| f.name.clone())
    };
    columns
        .iter()
        .map(|column| match column {
            Column::Field { field } => name(field.as_str()),
            Column::Totals {
                function, field, ..
            } => format!("{} of {}", capitalised(&serde_words(function)), name(field)),
            Column::Progress { basis } => format!("Progress ({})", serde_words(basis)),
            Column::Formula { formula, name } => name.clone().unwrap_or_else(|| formula.clone()),
        })
        .collect()
}

/// A unit enum's serialised name as words: `story_points` → "story points".
fn serde_words(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A field's cell; a status carries its category (the key of other named values, such as a project's, is
/// not a category).
fn field_cell(value: &FieldValue, is_status: bool) -> Cell {
    let category = match value {
        FieldValue::Named { key: Some(key), .. } if is_status => Some(key.to_string()),
        _ => None,
    };
    Cell::new(value.display(), value.as_number(), category)
}

/// The cell of `row` in the column `column` with these values.
fn cell(column: &Column, values: &ColumnValues, row: usize) -> Option<Cell> {
    let is_status = matches!(column, Column::Field { field } if field.as_str() == "status");
    match values {
        ColumnValues::Field(list) => list
            .get(row)?
            .as_ref()
            .map(|value| field_cell(value, is_status)),
        ColumnValues::Computed(list) => match list.get(row)? {
            Ok(value) => {
                let text = value.to_string();
                let number = match value {
                    arbor_core::formula::Value::Number(n) => Some(*n),
                    _ => None,
                };
                (!text.is_empty()).then(|| Cell::new(text, number, None))
            }
            Err(error) => Some(Cell::Detailed(DetailedCell {
                text: String::new(),
                number: None,
                category: None,
                error: Some(error.clone()),
                pending: false,
            })),
        },
        ColumnValues::Progress(list) => list
            .get(row)
            .copied()
            .flatten()
            .map(|p| Cell::new(format!("{:.0} %", p * 100.0), Some(p), None)),
    }
}

/// Title, kind and issue of a row of the computed forest.
fn describe_row(
    result: &compute::Result,
    summary_field: &FieldId,
    row: usize,
) -> (&'static str, String, Option<u64>, Option<String>) {
    match result.forest.item(row) {
        EffectiveItem::Issue(id) => {
            let issue = result.data.issue(id);
            let summary = issue
                .and_then(|i| i.field(summary_field).flatten())
                .map(FieldValue::display)
                .unwrap_or_default();
            (
                "issue",
                summary,
                Some(id.get()),
                issue.map(|i| i.key.to_string()),
            )
        }
        EffectiveItem::Stored(row_id) => {
            let stored = &result.stored;
            let item = stored.position_of(row_id).map(|p| stored.row(p).item);
            match item {
                Some(ItemRef::Folder(name)) => ("folder", name.as_str().to_owned(), None, None),
                Some(ItemRef::Memo(text)) => ("memo", text.as_str().to_owned(), None, None),
                _ => ("folder", String::new(), None, None),
            }
        }
        EffectiveItem::Group(group) => (
            "group",
            result
                .forest
                .group_label(group)
                .map(|g| g.label.to_string())
                .unwrap_or_default(),
            None,
            None,
        ),
    }
}

/// An expansion, parsed once per request.
struct Expanded {
    depth: u16,
    open: HashSet<u64>,
    closed: HashSet<u64>,
}

impl Expanded {
    fn new(expand: &Expansion) -> Self {
        let keys = |list: &[String]| list.iter().filter_map(|k| k.parse().ok()).collect();
        Self {
            depth: expand.depth,
            open: keys(&expand.open),
            closed: keys(&expand.closed),
        }
    }

    fn is_expanded(&self, forest: &EffectiveForest, row: usize) -> bool {
        let key = forest.key(row);
        !self.closed.contains(&key) && (forest.depth(row) < self.depth || self.open.contains(&key))
    }

    /// How many rows the expansion shows, and those at `offset..offset + limit` (forest indices). One walk,
    /// no allocation beyond the window: this runs on every scroll of a 100,000-row structure.
    fn window(
        &self,
        forest: &EffectiveForest,
        max_depth: u16,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<usize>) {
        if self.closed.is_empty() && self.depth > max_depth {
            // Everything is expanded: the window is a plain range.
            let end = offset.saturating_add(limit).min(forest.len());
            return (forest.len(), (offset.min(end)..end).collect());
        }
        let mut shown = 0;
        let mut rows = Vec::with_capacity(limit.min(MAX_WINDOW));
        let mut row = 0;
        while row < forest.len() {
            if shown >= offset && rows.len() < limit {
                rows.push(row);
            }
            shown += 1;
            row = if self.is_expanded(forest, row) {
                row + 1
            } else {
                forest.subtree_end(row)
            };
        }
        (shown, rows)
    }

    /// How many of the forest's first rows hold its first `shown` rows shown under the expansion and the row
    /// shown after them (with what is between: the rows below collapsed ones); `None` when it shows fewer.
    fn rows_through_next(&self, forest: &EffectiveForest, shown: usize) -> Option<usize> {
        let mut row = 0;
        for _ in 0..shown {
            if row >= forest.len() {
                return None;
            }
            row = if self.is_expanded(forest, row) {
                row + 1
            } else {
                forest.subtree_end(row)
            };
        }
        (row < forest.len()).then_some(row + 1)
    }
}

/// The rows a window shows, to answer it from a forest's first rows while the rest is read.
struct WindowRows {
    expanded: Expanded,
    /// Rows shown up to the window's end.
    shown: usize,
}

impl compute::FirstRows for WindowRows {
    fn needed(&self, forest: &EffectiveForest) -> usize {
        self.expanded
            .rows_through_next(forest, self.shown)
            .unwrap_or(forest.len())
    }

    fn cut(&self, visible: &EffectiveForest) -> Option<usize> {
        self.expanded.rows_through_next(visible, self.shown)
    }
}

/// `POST /api/v1/structures/{id}/rows`: a window of the effective forest as you see it (View).
#[utoipa::path(post, path = "/api/v1/structures/{id}/rows", tag = "rows", request_body = WindowBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = Window)))]
pub async fn window(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<WindowBody>,
) -> ApiResult<Response> {
    if body.limit > MAX_WINDOW {
        return Err(ApiError::bad_request(format!(
            "a window has at most {MAX_WINDOW} rows; ask for several"
        )));
    }
    let access = authorize(&state, &caller, id, Level::View, "structure.read").await?;
    let columns = chosen_columns(&state, &caller, &access, body.view, body.columns).await?;
    let first_rows = Box::new(WindowRows {
        expanded: Expanded::new(&body.expand),
        shown: body.offset.saturating_add(body.limit),
    });
    let result = Box::pin(computed(
        &state,
        &caller,
        &access,
        &columns,
        Some(first_rows),
    ))
    .await?;
    let forest = &result.forest;
    let expanded = Expanded::new(&body.expand);
    let (mut total, window) = expanded.window(forest, result.max_depth, body.offset, body.limit);
    let mut visible_rows = forest.len();
    if let Some(reading) = &result.reading {
        // Every row counted as shown: what is withheld is told only by the whole answer.
        total = reading.rows;
        visible_rows = reading.rows;
    }
    let encode = |first: usize, end: usize| encode_rows(&result, first, end);
    let fragments: Vec<&[u8]> = window
        .iter()
        .map(|&row| result.encoded.row(row, encode))
        .collect::<Option<_>>()
        .ok_or_else(|| ApiError::internal(&"a window row is not in its forest"))?;
    audit::read(&state, &caller, access.meta.id).await?;
    let head = Window {
        version: access.meta.version.get(),
        columns: titles(&state, &caller, &access.who, &result).await,
        total,
        visible_rows,
        loading: result.reading.is_some(),
        hidden: result.hidden,
        offset: body.offset,
        freshness: freshness(&result),
        generators: generator_runs(&result),
        stopped_at: result.stopped_at.map(arbor_core::ids::GeneratorId::get),
        rows: SplicedRows,
    };
    let rows_len: usize = fragments.iter().map(|f| f.len() + 1).sum();
    let mut bytes = Vec::with_capacity(rows_len + 1024);
    serde_json::to_writer(&mut bytes, &head).map_err(|e| ApiError::internal(&e))?;
    if !bytes.ends_with(EMPTY_ROWS_END) {
        return Err(ApiError::internal(
            &"a window's rows are not its last field",
        ));
    }
    bytes.truncate(bytes.len() - b"[]}".len());
    bytes.push(b'[');
    for (n, (&row, fragment)) in window.iter().zip(&fragments).enumerate() {
        if n > 0 {
            bytes.push(b',');
        }
        let is_open = has_children(forest, row) && expanded.is_expanded(forest, row);
        match fragment.strip_suffix(NOT_EXPANDED) {
            Some(start) if is_open => {
                bytes.extend_from_slice(start);
                bytes.extend_from_slice(EXPANDED);
            }
            _ => bytes.extend_from_slice(fragment),
        }
    }
    bytes.extend_from_slice(b"]}");
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn has_children(forest: &EffectiveForest, row: usize) -> bool {
    row + 1 < forest.len() && forest.depth(row + 1) > forest.depth(row)
}

/// How a row serialised by [`encode_rows`] ends, and how it ends when the row is shown expanded.
const NOT_EXPANDED: &[u8] = b"\"expanded\":false}";
const EXPANDED: &[u8] = b"\"expanded\":true}";

/// Rows `first..end` of a computed forest serialised as [`WindowRow`]s (not expanded), back to back.
fn encode_rows(result: &compute::Result, first: usize, end: usize) -> compute::Block {
    let forest = &result.forest;
    let summary = FieldId::new("summary");
    let mut block = compute::Block::default();
    let below = rows_below(forest, first, end);
    for row in first..end {
        let (kind, title, issue_id, issue_key) = describe_row(result, &summary, row);
        let source = forest.source(row);
        // While rows below it are still being read, only a row's own fields are known.
        let waits = result.reading.is_some() && forest.subtree_end(row) == forest.len();
        let encoded = WindowRow {
            key: forest.key(row).to_string(),
            row: match source {
                Source::Manual(r) => Some(r.get()),
                Source::Generated(_) => None,
            },
            generator: match source {
                Source::Generated(g) => Some(g.get()),
                Source::Manual(_) => None,
            },
            depth: forest.depth(row),
            kind,
            issue_id,
            issue_key,
            title,
            has_children: has_children(forest, row),
            rows_below: below.get(row - first).copied().filter(|&n| n > 0 && !waits),
            cells: result
                .columns
                .iter()
                .zip(&result.values)
                .map(|(column, values)| match column {
                    Column::Field { .. } => cell(column, values, row),
                    _ if waits => Some(Cell::Detailed(DetailedCell {
                        text: "…".to_owned(),
                        number: None,
                        category: None,
                        error: None,
                        pending: true,
                    })),
                    _ => cell(column, values, row),
                })
                .collect(),
            expanded: has_children(forest, row).then_some(false),
        };
        // Strings, numbers, booleans and lists into a Vec: this cannot fail. Were it to, the row would
        // be sent as `null` rather than as broken JSON.
        if serde_json::to_writer(&mut block.bytes, &encoded).is_err() {
            block.bytes.extend_from_slice(b"null");
        }
        block.ends.push(block.bytes.len());
    }
    block
}

/// The rows below each row of `first..end` (its subtree less itself). One pass with a stack of the rows whose
/// subtree is still open; those still open at `end` are a chain of ancestors, measured deepest first, each
/// going on from where the one inside it ended: a block costs its own rows plus one walk to its last subtree's
/// end, however deep.
fn rows_below(forest: &EffectiveForest, first: usize, end: usize) -> Vec<usize> {
    let mut below = vec![0; end.saturating_sub(first)];
    let mut open: Vec<usize> = Vec::new();
    for row in first..end {
        while let Some(&top) = open.last() {
            if forest.depth(top) < forest.depth(row) {
                break;
            }
            open.pop();
            below[top - first] = row - top - 1;
        }
        open.push(row);
    }
    let mut reached = end;
    for &top in open.iter().rev() {
        let mut row = reached.max(top + 1);
        while row < forest.len() && forest.depth(row) > forest.depth(top) {
            row += 1;
        }
        below[top - first] = row - top - 1;
        reached = row;
    }
    below
}

fn freshness(result: &compute::Result) -> Freshness {
    Freshness {
        data_age_ms: result
            .data_age
            .map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
        stale: result.load.stale,
        computed_ms_ago: u64::try_from(result.computed_at.elapsed().as_millis())
            .unwrap_or(u64::MAX),
        jira_requests: result.load.requests,
    }
}

fn generator_runs(result: &compute::Result) -> Vec<GeneratorRun> {
    let mut runs: Vec<GeneratorRun> = result
        .costs
        .iter()
        .map(|(id, cost)| GeneratorRun {
            id: id.get(),
            elapsed_ms: cost.elapsed.as_secs_f64() * 1000.0,
            rows_added: cost.rows_added,
            rows_removed: cost.rows_removed,
        })
        .collect();
    runs.sort_by_key(|r| r.id);
    runs
}

/// `POST /api/v1/structures/{id}/refresh`: "refresh now" — forget your cached results and the Jira data
/// behind this structure, so the next window reads Jira again (View).
#[utoipa::path(post, path = "/api/v1/structures/{id}/refresh", tag = "rows",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 204, description = "the next window reads Jira again")))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<StatusCode> {
    let access = authorize(&state, &caller, id, Level::View, "structure.refresh").await?;
    let kept = state.computed.take_person(caller.tenant, &caller.account);
    let tenant = jira_tenant(caller.tenant);
    let mut issues = HashSet::new();
    // Every issue the computation read, not only those it shows: filters and sorts read issues they leave out.
    for result in kept.iter().filter(|r| r.structure == access.meta.id) {
        issues.extend(result.data.issues().map(|issue| issue.id));
    }
    for issue in &issues {
        state.caches.invalidate_issue(&tenant, *issue).await;
    }
    // The structure's queries and children lists are read again too (for everyone: results are cheap to redo).
    let queries: HashSet<String> = load_generators(&state, &caller, access.meta.id)
        .await?
        .values()
        .filter_map(|g| match g {
            Generator::InsertJql { jql } => Some(jql.clone()),
            _ => None,
        })
        .collect();
    state
        .caches
        .invalidate_results(&tenant, move |key| match key {
            arbor_jira::cache::ResultKey::Jql(query) => queries.contains(query.as_ref()),
            arbor_jira::cache::ResultKey::Children(parent) => issues.contains(parent),
            arbor_jira::cache::ResultKey::Key(_) => false,
        });
    audit::ok(
        &state,
        &caller,
        "structure.refresh",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: String,
    view: Option<u64>,
}

/// `GET /api/v1/structures/{id}/export?format=csv|xlsx|json[&view=V]` (View): CSV or XLSX of the view with
/// every row expanded (the hierarchy as outline levels), or JSON of the structure's ids and configuration.
#[utoipa::path(get, path = "/api/v1/structures/{id}/export", tag = "rows",
    params(("id" = u64, Path, description = "structure id"),
           ("format" = String, Query, description = "csv, xlsx or json"),
           ("view" = Option<u64>, Query, description = "saved view for csv and xlsx")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream")))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let access = authorize(&state, &caller, id, Level::View, "structure.export").await?;
    let name = safe_file_name(&access.meta.name);
    let (content_type, extension, bytes) = match query.format.as_str() {
        "json" => {
            let body = Box::pin(json_export(&state, &caller, &access)).await?;
            ("application/json", "json", body.to_string().into_bytes())
        }
        "csv" | "xlsx" => {
            let columns = chosen_columns(&state, &caller, &access, query.view, None).await?;
            let result = Box::pin(computed(&state, &caller, &access, &columns, None)).await?;
            let names = titles(&state, &caller, &access.who, &result).await;
            let table = export_table(&result, names);
            if query.format == "csv" {
                ("text/csv; charset=utf-8", "csv", export::csv(&table))
            } else {
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                    export::xlsx(&table).map_err(|e| ApiError::internal(&e))?,
                )
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown export format `{}`; use csv, xlsx or json",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    audit::ok(
        &state,
        &caller,
        &format!("structure.export.{extension}"),
        &[&format!("structure:{id}")],
    )
    .await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}.{extension}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A file name made of the structure's name: letters, digits, `-` and `_` only.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if cleaned.trim_matches('_').is_empty() {
        "structure".to_owned()
    } else {
        cleaned
    }
}

fn export_table(result: &compute::Result, names: Vec<String>) -> export::Table {
    let mut titles = vec!["Key".to_owned(), "Title".to_owned()];
    titles.extend(names);
    let summary = FieldId::new("summary");
    let rows = (0..result.forest.len())
        .map(|row| {
            let (_, title, _, key) = describe_row(result, &summary, row);
            let mut cells = vec![
                key.map_or(export::Cell::Empty, export::Cell::Text),
                export::Cell::Text(title),
            ];
            cells.extend(result.columns.iter().zip(&result.values).map(
                |(column, values)| match cell(column, values, row) {
                    None => export::Cell::Empty,
                    Some(Cell::Detailed(DetailedCell {
                        error: Some(error), ..
                    })) => export::Cell::Text(format!("error: {error}")),
                    Some(Cell::Detailed(DetailedCell {
                        number: Some(n), ..
                    })) => export::Cell::Number(n),
                    Some(Cell::Text(text) | Cell::Detailed(DetailedCell { text, .. })) => {
                        export::Cell::Text(text)
                    }
                },
            ));
            export::ExportRow {
                depth: result.forest.depth(row),
                cells,
            }
        })
        .collect();
    export::Table {
        columns: titles,
        rows,
    }
}

/// The structure's ids and configuration: stored rows (issue ids only), generators, views, rules.
async fn json_export(state: &AppState, caller: &Caller, access: &Access) -> ApiResult<Value> {
    let generators = load_generators(state, caller, access.meta.id).await?;
    // The shared views and the caller's own.
    let views: Vec<_> = state
        .store
        .views(caller.tenant, access.meta.id)
        .await?
        .into_iter()
        .filter(|(_, view)| sees_view(caller, view))
        .collect();
    let rules = if access.level.allows(Level::Control) {
        Some(state.store.rules(caller.tenant, access.meta.id).await?)
    } else {
        None
    };
    let rows = {
        let guard = content::lock(state, caller.tenant, &access.meta).await?;
        guard
            .as_ref()
            .map(|l| l.content.forest().to_rows())
            .unwrap_or_default()
    };
    // Stored issue rows the caller may not see are left out (their subtrees move up), and counted.
    let result = Box::pin(computed(
        state,
        caller,
        access,
        &View::default_columns(),
        None,
    ))
    .await?;
    let (rows, hidden) = without_hidden_issues(rows, |id| result.data.issue(id).is_some());
    let places: HashMap<_, _> = rows
        .iter()
        .filter_map(|row| match row.item {
            arbor_core::forest::Item::Generator(g) => Some((g, row.id.get())),
            _ => None,
        })
        .collect();
    let mut generators: Vec<_> = generators
        .into_iter()
        .map(|(gid, config)| (gid.get(), places.get(&gid).copied(), config))
        .collect();
    generators.sort_by_key(|(id, _, _)| *id);
    let generators = shown::generators(state, caller, access, generators).await;
    Ok(json!({
        "format": "arbor-structure/1",
        "structure": {
            "id": access.meta.id.get(),
            "name": access.meta.name,
            "description": access.meta.description,
            "owner": access.meta.owner.as_str(),
            "version": access.meta.version.get(),
        },
        "rows": rows,
        "generators": generators,
        "views": views.iter().map(|(id, view)| json!({
            "id": id.get(),
            "name": view.config.name,
            "columns": view.config.columns,
            "owner": view.owner.as_str(),
            "shared": view.shared,
        })).collect::<Vec<_>>(),
        "rules": rules,
        "hidden": hidden,
    }))
}

/// Drops issue rows `visible` rejects; rows below a dropped row move up one level per dropped ancestor.
fn without_hidden_issues(
    rows: Vec<arbor_core::forest::Row>,
    visible: impl Fn(arbor_core::ids::IssueId) -> bool,
) -> (Vec<arbor_core::forest::Row>, usize) {
    let mut kept = Vec::with_capacity(rows.len());
    let mut dropped_depths: Vec<u16> = Vec::new();
    let mut hidden = 0;
    for mut row in rows {
        while dropped_depths.last().is_some_and(|d| *d >= row.depth) {
            dropped_depths.pop();
        }
        if let arbor_core::forest::Item::Issue(id) = row.item
            && !visible(id)
        {
            hidden += 1;
            dropped_depths.push(row.depth);
            continue;
        }
        row.depth -= u16::try_from(dropped_depths.len()).unwrap_or(row.depth);
        kept.push(row);
    }
    (kept, hidden)
}
