//! The effective forest of a structure as one person sees it, with the values of a view's columns.
//!
//! The engine (arbor-core) answers with what it lacks; the loader (arbor-jira) fetches exactly that as the
//! person, from its caches or from Jira; this repeats until nothing is missing. Then the rows Jira does not
//! show the person are withheld (`permission::visible_to`), and only then are columns computed, so no total
//! includes a hidden row. Results are kept for a short while per (structure version, person, view), which is
//! what makes windows of a 100,000-row structure cheap; the data under them has arbor-jira's own TTLs, and
//! every response states how old it is.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arbor_core::columns::{self, Column, ColumnValues, FieldBindings, ForestRows};
use arbor_core::data::{FieldId, IssueData};
use arbor_core::effective::{
    Clock, EffectiveForest, EffectiveItem, GeneratorCost, RunContext, evaluate,
};
use arbor_core::forest::{Forest, ItemRef};
use arbor_core::generator::Generator;
use arbor_core::ids::{ActorId, GeneratorId, Version};
use arbor_core::permission::visible_to;
use arbor_jira::client::Credentials;
use arbor_jira::loader::LoadReport;
use arbor_store::model::{StructureId, TenantId};
use jql::eval::{EvalContext, StandardCatalog};

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now};

/// How many computed forests are kept at most (per node).
const MAX_KEPT: usize = 256;

/// How many rounds of "evaluate, then load what is missing" a computation may take.
const MAX_ROUNDS: usize = 32;

/// One computed forest, ready to be windowed.
#[derive(Debug)]
pub struct Result {
    pub structure: StructureId,
    /// The stored forest it was computed from (folder names and memo texts of its rows).
    pub stored: Arc<Forest>,
    /// The rows as the person sees them; only the first ones while [`Result::reading`] is set.
    pub forest: EffectiveForest,
    /// Issue rows withheld from this person.
    pub hidden: usize,
    /// The deepest row's depth.
    pub max_depth: u16,
    pub data: IssueData,
    pub columns: Vec<Column>,
    pub values: Vec<ColumnValues>,
    pub costs: HashMap<GeneratorId, GeneratorCost>,
    /// The generator at which the run stopped because its time budget ran out.
    pub stopped_at: Option<GeneratorId>,
    pub load: LoadReport,
    /// When the oldest Jira data used was fetched, in milliseconds before `computed_at`.
    pub data_age: Option<Duration>,
    pub computed_at: Instant,
    /// The rows as the API sends them, serialised once, block by block as windows first reach them.
    pub encoded: Encoded,
    /// The columns' titles, made once (they need the person's field names).
    pub titles: OnceLock<Vec<String>>,
    /// Set on a first answer given while the rest of the forest's issues are still being read.
    pub reading: Option<Reading>,
}

/// What a first answer tells of the whole forest: only what the whole answer tells too.
#[derive(Debug)]
pub struct Reading {
    /// Rows of the whole forest before any is withheld (the whole answer's visible and hidden rows).
    pub rows: usize,
}

/// The rows a window shows, for answering it from a forest's first rows. Rows come in pre-order, so the first
/// rows of a forest are a forest of their own, and each row's place and key depend only on the rows above it.
pub trait FirstRows: Send {
    /// How many of the forest's first rows (before any is withheld) the window needs at least.
    fn needed(&self, forest: &EffectiveForest) -> usize;
    /// The first rows of `visible` (first rows with none withheld) that show the window's rows and the
    /// row shown after them; `None` when `visible` has too few.
    fn cut(&self, visible: &EffectiveForest) -> Option<usize>;
}

/// A forest needing at least this many issues read is answered first with the rows a window needs, as soon
/// as their issues are read; fewer are read about as fast as those rows alone.
const FIRST_ANSWER_MIN_ISSUES: usize = 1000;

/// How long the error of a computation that went on after a first answer is kept: whoever waited for it gets
/// it, and whoever asks anew gets no first answer but the whole one (or its error).
const FAILED_FOR: Duration = Duration::from_secs(10);

/// Rows per block of [`Encoded`].
const BLOCK: usize = 256;

/// Bytes of serialised rows, one block of [`BLOCK`] rows at a time: a window of a large forest then costs
/// copies of contiguous bytes rather than walking issue data scattered over the heap on every scroll.
#[derive(Debug)]
pub struct Encoded {
    rows: usize,
    blocks: Vec<OnceLock<Block>>,
}

/// Rows `first..first + ends.len()` of a forest, serialised back to back; `ends[i]` is where row
/// `first + i` ends in `bytes`.
#[derive(Debug, Default)]
pub struct Block {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

impl Encoded {
    fn new(rows: usize) -> Self {
        Self {
            rows,
            blocks: (0..rows.div_ceil(BLOCK)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The serialised row `row`, encoding its block with `encode(first, end)` the first time it is needed;
    /// `None` for a row the forest does not have.
    pub fn row(&self, row: usize, encode: impl FnOnce(usize, usize) -> Block) -> Option<&[u8]> {
        let first = row / BLOCK * BLOCK;
        let block = self
            .blocks
            .get(row / BLOCK)?
            .get_or_init(|| encode(first, (first + BLOCK).min(self.rows)));
        let index = row - first;
        let start = match index.checked_sub(1) {
            Some(before) => *block.ends.get(before)?,
            None => 0,
        };
        block.bytes.get(start..*block.ends.get(index)?)
    }
}

type Key = (TenantId, StructureId, Version, ActorId, u64);

/// Recently computed forests.
#[derive(Debug)]
pub struct Computed {
    reuse: Duration,
    results: Mutex<HashMap<Key, Arc<Result>>>,
    /// One lock per key, so concurrent requests for the same forest compute it once.
    pending: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    /// Errors of computations that went on after a first answer, with when they failed.
    failed: Mutex<HashMap<Key, (Instant, ApiError)>>,
}

impl Computed {
    pub fn new(reuse: Duration) -> Self {
        Self {
            reuse,
            results: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, key: &Key) -> Option<Arc<Result>> {
        let results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results
            .get(key)
            .filter(|r| r.computed_at.elapsed() < self.reuse)
            .cloned()
    }

    /// The error of `key`'s computation if it failed a moment ago (old ones are forgotten).
    fn failure(&self, key: &Key) -> Option<ApiError> {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed.retain(|_, (at, _)| at.elapsed() < FAILED_FOR);
        failed.get(key).map(|(_, error)| error.clone())
    }

    fn failed(&self, key: Key, error: ApiError) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed.insert(key, (Instant::now(), error));
    }

    fn keep(&self, key: Key, result: Arc<Result>) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let reuse = self.reuse;
        results.retain(|_, r| r.computed_at.elapsed() < reuse);
        // Bounded: each result holds a whole forest and its data. The oldest make room.
        while results.len() >= MAX_KEPT {
            let Some(oldest) = results
                .iter()
                .min_by_key(|(_, r)| r.computed_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            results.remove(&oldest);
        }
        results.insert(key, result);
    }

    /// Drops the results that can no longer be reused, so that the memory of forests nobody looks at is
    /// released even when nothing else is computed.
    pub fn sweep(&self) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let reuse = self.reuse;
        results.retain(|_, r| r.computed_at.elapsed() < reuse);
    }

    /// Drops every kept result of a structure (it was deleted).
    pub fn forget_structure(&self, tenant: TenantId, id: StructureId) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results.retain(|k, _| (k.0, k.1) != (tenant, id));
    }

    /// Drops every kept result of a tenant (Jira said something changed).
    pub fn forget_tenant(&self, tenant: TenantId) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results.retain(|k, _| k.0 != tenant);
    }

    /// Drops every kept result of a person (after "refresh now") and returns them.
    pub fn take_person(&self, tenant: TenantId, account: &ActorId) -> Vec<Arc<Result>> {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = Vec::new();
        results.retain(|k, r| {
            let theirs = k.0 == tenant && &k.3 == account;
            if theirs {
                taken.push(Arc::clone(r));
            }
            !theirs
        });
        taken
    }
}

/// Everything computing a forest needs; gathered only when no recent result can be reused.
#[derive(Debug)]
pub struct Request {
    /// The stored forest at the structure version being computed; kept in the result to describe rows.
    pub forest: Forest,
    pub generators: HashMap<GeneratorId, Generator>,
    /// Issue rows of other structures this one inserts, already checked against the person's access.
    pub inserted: HashMap<u64, Vec<(arbor_core::ids::IssueId, u32)>>,
}

/// Which forest: a structure at a version, for a person, with columns.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub tenant: TenantId,
    pub structure: StructureId,
    pub version: Version,
    pub columns: &'a [Column],
}

struct Wall(Instant);

impl Clock for Wall {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A hash of the columns' configurations, made without building their JSON (this runs on every window).
fn columns_key(columns: &[Column]) -> u64 {
    struct Hashing(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(std::collections::hash_map::DefaultHasher::new());
    for column in columns {
        // Cannot fail: the writer does not, and columns are plain data.
        let _ = serde_json::to_writer(&mut hashing, column);
        hashing.0.write_u8(0);
    }
    hashing.0.finish()
}

/// Removes a key's pending lock however the computation ends (unless a newer lock replaced it).
struct Pending {
    state: AppState,
    key: Key,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut pending = self
            .state
            .computed
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending
            .get(&self.key)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            pending.remove(&self.key);
        }
    }
}

/// The forest as `who` sees it: reused when computed recently for the same structure version, person and
/// columns; otherwise `prepare` gathers what computing needs (the stored forest is copied only then).
///
/// With `first_rows` (a window's), a forest whose issues take long to read from Jira is answered early: with
/// the rows the window needs, once their issues are read, marked [`Result::reading`]. The computation then
/// goes on by itself (whoever asks next waits for it, and gets its whole answer) and is kept as usual when
/// done.
pub async fn forest<F, Fut>(
    state: &AppState,
    who: &Credentials,
    account: &ActorId,
    wanted: Wanted<'_>,
    first_rows: Option<Box<dyn FirstRows>>,
    prepare: F,
) -> ApiResult<Arc<Result>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<Request>>,
{
    let key: Key = (
        wanted.tenant,
        wanted.structure,
        wanted.version,
        account.clone(),
        columns_key(wanted.columns),
    );
    if let Some(hit) = state.computed.fresh(&key) {
        return Ok(hit);
    }
    let lock = {
        let mut pending = state
            .computed
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(pending.entry(key.clone()).or_default())
    };
    // Whoever had to wait for another computation of this forest wants its whole answer (that one may have
    // failed after its first answer, and this one then sees why).
    let (computing, waited) = match Arc::clone(&lock).try_lock_owned() {
        Ok(computing) => (computing, false),
        Err(_) => (Arc::clone(&lock).lock_owned().await, true),
    };
    // Only whoever holds the lock removes it: a waiter that gives up leaves it to its holder.
    let pending = Pending {
        state: state.clone(),
        key: key.clone(),
        lock,
    };
    if let Some(hit) = state.computed.fresh(&key) {
        return Ok(hit);
    }
    let failure = state.computed.failure(&key);
    if let Some(error) = failure.clone().filter(|_| waited) {
        return Err(error);
    }
    let first_rows = first_rows.filter(|_| !waited && failure.is_none());
    // Computing may call Jira as this person: not while their Jira-call budget is spent. (Once started, a
    // computation finishes: its rounds are charged as they are made.)
    state.limits.jira(wanted.tenant, account.as_str())?;
    let started = Instant::now();
    let request = prepare().await?;
    let Some(first_rows) = first_rows else {
        // Boxed: the loading loop's future is large, and every handler awaits this one.
        let result = Arc::new(Box::pin(compute(state, who, wanted, request, None)).await?);
        state.metrics.computed(started.elapsed());
        state.computed.keep(key, Arc::clone(&result));
        drop((computing, pending));
        return Ok(result);
    };
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let (state, who, columns) = (state.clone(), who.clone(), wanted.columns.to_vec());
    let (tenant, structure, version) = (wanted.tenant, wanted.structure, wanted.version);
    let whole = tokio::spawn(async move {
        let wanted = Wanted {
            tenant,
            structure,
            version,
            columns: &columns,
        };
        let result = compute(&state, &who, wanted, request, Some((first_rows, first_tx))).await;
        let result = match result {
            Ok(result) => Arc::new(result),
            Err(error) => {
                state.computed.failed(key, error.clone());
                return Err(error);
            }
        };
        state.metrics.computed(started.elapsed());
        state.computed.keep(key, Arc::clone(&result));
        drop((computing, pending));
        Ok(result)
    });
    match first_rx.await {
        Ok(first) => Ok(Arc::new(first)),
        // No early answer (the forest was quick to read, or its computation failed): the whole one.
        Err(_) => whole.await.unwrap_or_else(|e| Err(ApiError::internal(&e))),
    }
}

/// The formula variables of a site (`story_points` reads its configured story point field), as formulas, totals
/// and column titles read them.
pub fn bindings(site: &crate::state::Site) -> FieldBindings {
    FieldBindings::standard(&FieldId::new(&site.config.story_points_field))
}

async fn compute(
    state: &AppState,
    who: &Credentials,
    wanted: Wanted<'_>,
    request: Request,
    mut first_answer: Option<(Box<dyn FirstRows>, tokio::sync::oneshot::Sender<Result>)>,
) -> ApiResult<Result> {
    let site = state
        .site(wanted.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let catalog = StandardCatalog::new();
    let bindings = bindings(site);
    let rank = FieldId::new(&site.config.rank_field);
    let column_fields: Vec<FieldId> = {
        let mut fields: Vec<FieldId> = wanted
            .columns
            .iter()
            .flat_map(|c| c.fields(&bindings))
            .collect();
        // The key and summary are always shown with an issue row.
        fields.push(FieldId::new("summary"));
        fields.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        fields.dedup();
        fields
    };
    let now_ms = now().as_unix_millis();
    let stored = Arc::new(request.forest);
    let finish = Finish {
        wanted,
        site,
        stored: &stored,
        bindings: &bindings,
        now_ms,
    };
    let mut data = IssueData::new();
    for (id, rows) in request.inserted {
        data.insert_structure(id, rows);
    }
    let mut load = LoadReport::default();
    for _ in 0..MAX_ROUNDS {
        // The engine's context borrows trait objects that are not `Send`: it must not live across an await.
        let evaluation = {
            let clock = Wall(Instant::now());
            let context = RunContext {
                generators: &request.generators,
                catalog: &catalog,
                jql: EvalContext {
                    current_user: Some(who.account_id.as_ref()),
                    ..EvalContext::at(jql::eval::Timestamp(now_ms))
                },
                rank_field: &rank,
                bindings: &bindings,
                limits: state.config.engine,
                clock: &clock,
            };
            evaluate(&stored, &data, &context).map_err(|e| {
                ApiError::bad_request(format!("the structure cannot be computed: {e}"))
            })?
        };
        let mut needs = evaluation.needs;
        let for_columns = columns::needs(&evaluation.forest, &data, &column_fields);
        // The generators have what they need: the rows are known, only their issues are not all read. (Not
        // with group headers: one dropped for want of visible rows would be counted in `Reading::rows`.)
        if first_answer.is_some()
            && needs.is_empty()
            && evaluation.stopped_at.is_none()
            && for_columns.issues.len() >= FIRST_ANSWER_MIN_ISSUES
            && !evaluation
                .forest
                .items()
                .iter()
                .any(|item| matches!(item, EffectiveItem::Group(_)))
            && let Some((window, send)) = first_answer.take()
        {
            let forest = &evaluation.forest;
            let mut rows = window.needed(forest);
            let mut from_jira = false;
            let mut read = 0;
            loop {
                let first = forest.first_rows(rows);
                let mut first_needs = columns::needs(&first, &data, &column_fields);
                // Worth an answer of its own only when it reads far fewer issues than the whole.
                read += first_needs.issues.len();
                if read * 4 > for_columns.issues.len() {
                    break;
                }
                if !first_needs.is_empty() {
                    first_needs.fields.extend(column_fields.iter().cloned());
                    let report = site.loader.load(who, &first_needs, &mut data).await?;
                    spent(state, wanted.tenant, who, &report);
                    from_jira |= report.requests > 0;
                    load.add(&report);
                }
                let visible = visible_to(&first, &data).forest;
                if let Some(cut) = window.cut(&visible) {
                    // Cut where the window's rows end, not where reading did: nothing in the answer then
                    // depends on how many rows were withheld. (Read from caches alone, the rest most
                    // likely is too, and the whole answer follows soon.)
                    if from_jira {
                        let reading = Reading { rows: forest.len() };
                        let answer = finish.result(
                            &visible.first_rows(cut),
                            data.clone(),
                            evaluation.costs.clone(),
                            None,
                            load,
                            Some(reading),
                        );
                        // Whoever asked may have gone: the computation goes on for the next one.
                        let _ = send.send(answer);
                    }
                    break;
                }
                if rows >= forest.len() {
                    break;
                }
                // Rows were withheld: read further.
                rows = rows.saturating_mul(2).min(forest.len());
            }
            continue;
        }
        needs.issues.extend(for_columns.issues);
        needs.fields.extend(for_columns.fields);
        needs.structures.clear();
        if needs.is_empty() {
            return Ok(finish.result(
                &evaluation.forest,
                data,
                evaluation.costs,
                evaluation.stopped_at,
                load,
                None,
            ));
        }
        if !needs.fields.is_empty() || !needs.issues.is_empty() {
            // Issues found this round are fetched with every column's fields at once.
            needs.fields.extend(column_fields.iter().cloned());
        }
        let report = site.loader.load(who, &needs, &mut data).await?;
        spent(state, wanted.tenant, who, &report);
        load.add(&report);
    }
    Err(ApiError::internal(&"the structure's data did not settle"))
}

/// Charges a load's Jira calls to the person it was made for.
fn spent(state: &AppState, tenant: TenantId, who: &Credentials, report: &LoadReport) {
    state
        .limits
        .spent_jira_calls(tenant, &who.account_id, report.requests);
}

fn max_depth(forest: &EffectiveForest) -> u16 {
    forest.depths().iter().copied().max().unwrap_or(0)
}

/// What every result of one computation shares.
struct Finish<'a> {
    wanted: Wanted<'a>,
    site: &'a crate::state::Site,
    stored: &'a Arc<Forest>,
    bindings: &'a FieldBindings,
    now_ms: i64,
}

impl Finish<'_> {
    /// The result from the engine's `forest` (or its first rows) with this data: rows Jira does not show the
    /// person withheld, then the columns computed over what is left.
    fn result(
        &self,
        forest: &EffectiveForest,
        data: IssueData,
        costs: HashMap<GeneratorId, GeneratorCost>,
        stopped_at: Option<GeneratorId>,
        load: LoadReport,
        reading: Option<Reading>,
    ) -> Result {
        let visible = visible_to(forest, &data);
        let values = {
            let time = jiff::Timestamp::from_millisecond(self.now_ms)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let rows = ForestRows::new(&visible.forest, &data, self.bindings, time);
            self.wanted
                .columns
                .iter()
                .map(|column| columns::compute(column, &rows))
                .collect()
        };
        let data_age = load.age(self.site.loader.caches());
        let encoded = Encoded::new(visible.forest.len());
        Result {
            structure: self.wanted.structure,
            stored: Arc::clone(self.stored),
            max_depth: max_depth(&visible.forest),
            forest: visible.forest,
            hidden: visible.hidden,
            data,
            columns: self.wanted.columns.to_vec(),
            values,
            costs,
            stopped_at,
            load,
            data_age,
            computed_at: Instant::now(),
            encoded,
            titles: OnceLock::new(),
            reading,
        }
    }
}

/// Issue ids in stored rows of kind issue, with their depth, for structures inserted by another one.
pub fn issue_rows(forest: &Forest) -> Vec<(arbor_core::ids::IssueId, u32)> {
    forest
        .iter()
        .filter_map(|row| match row.item {
            ItemRef::Issue(id) => Some((id, u32::from(row.depth))),
            _ => None,
        })
        .collect()
}
