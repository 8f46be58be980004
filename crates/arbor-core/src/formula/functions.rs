//! The function registry (names, arity, parameter kinds, result types: what the checker and the reference page
//! need) and the implementations of the strict functions, those whose arguments are all evaluated first.
//!
//! `IF`, `CASE`, `AND`, `OR` and `NOT` are listed here too but evaluated lazily by the evaluator; aggregates
//! and their modifiers have their own tables at the end.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span as CalSpan, Timestamp};

use super::value::{
    BinaryOp, Value, binary, compare, days_to_ms, epoch_days, equal, floored_mod, ms_from_f64,
    ms_to_f64, to_date, to_datetime, to_duration, to_number,
};

/// Static types, as far as the checker can tell without data. `Any` means "known only at run time".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Any,
    Empty,
    Number,
    Text,
    Bool,
    Date,
    DateTime,
    Duration,
    List,
}

impl Ty {
    pub(crate) fn of(v: &Value) -> Ty {
        match v {
            Value::Empty => Ty::Empty,
            Value::Number(_) => Ty::Number,
            Value::Text(_) => Ty::Text,
            Value::Bool(_) => Ty::Bool,
            Value::Date(_) => Ty::Date,
            Value::DateTime(_) => Ty::DateTime,
            Value::Duration(_) => Ty::Duration,
            Value::List(_) => Ty::List,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Any => "any value",
            Ty::Empty => "EMPTY",
            Ty::Number => "a number",
            Ty::Text => "text",
            Ty::Bool => "a boolean",
            Ty::Date => "a date",
            Ty::DateTime => "a date-time",
            Ty::Duration => "a duration",
            Ty::List => "a list",
        }
    }
}

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum P {
    /// Anything.
    A,
    /// A number (booleans and numeric text convert).
    N,
    /// A date or date-time (ISO text converts).
    D,
    /// A duration.
    U,
}

impl P {
    pub(crate) fn accepts(self, ty: Ty) -> bool {
        match self {
            P::A => true,
            P::N => matches!(ty, Ty::Any | Ty::Empty | Ty::Number | Ty::Bool | Ty::Text),
            P::D => matches!(ty, Ty::Any | Ty::Empty | Ty::Date | Ty::DateTime | Ty::Text),
            P::U => matches!(ty, Ty::Any | Ty::Empty | Ty::Duration),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            P::A => "any value",
            P::N => "a number",
            P::D => "a date",
            P::U => "a duration",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Abs,
    Ceiling,
    Floor,
    Round,
    Trunc,
    Min,
    Max,
    Mod,
    Pow,
    Sqrt,
    Ln,
    Number,
    Len,
    Upper,
    Lower,
    Trim,
    Left,
    Right,
    Mid,
    Replace,
    Contains,
    Search,
    StartsWith,
    EndsWith,
    Concat,
    Text,
    Fixed,
    Repeat,
    Exact,
    If,
    Case,
    And,
    Or,
    Not,
    IsEmpty,
    Defined,
    Default,
    Now,
    Today,
    Date,
    DateTime,
    Year,
    Month,
    Day,
    Weekday,
    DaysBetween,
    DateAdd,
    DateSubtract,
    FormatDatetime,
    Weeks,
    Days,
    Hours,
    Minutes,
    ToDays,
    ToHours,
    ToMinutes,
    Size,
    Join,
    IsLeaf,
    Depth,
}

/// Groups on the reference page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Number,
    Text,
    Logic,
    Date,
    List,
    Row,
}

/// One scalar function: what the checker enforces and what an editor can show.
#[derive(Debug)]
pub struct FunctionInfo {
    pub name: &'static str,
    pub category: Category,
    /// How a call looks, optional parameters in brackets: `ROUND(number, [digits])`.
    pub usage: &'static str,
    pub min_args: usize,
    /// `None`: any number of arguments.
    pub max_args: Option<usize>,
    /// What each parameter accepts; the last kind repeats for extra arguments.
    pub(crate) params: &'static [P],
    pub(crate) ret: Ty,
    pub(crate) func: Func,
}

macro_rules! f {
    ($name:literal, $cat:ident, $usage:literal, $min:expr, $max:expr, [$($p:ident),*], $ret:ident, $func:ident) => {
        FunctionInfo {
            name: $name,
            category: Category::$cat,
            usage: $usage,
            min_args: $min,
            max_args: $max,
            params: &[$(P::$p),*],
            ret: Ty::$ret,
            func: Func::$func,
        }
    };
}

static FUNCTIONS: &[FunctionInfo] = &[
    f!("ABS", Number, "ABS(number)", 1, Some(1), [N], Number, Abs),
    f!(
        "CEILING",
        Number,
        "CEILING(number)",
        1,
        Some(1),
        [N],
        Number,
        Ceiling
    ),
    f!(
        "FLOOR",
        Number,
        "FLOOR(number)",
        1,
        Some(1),
        [N],
        Number,
        Floor
    ),
    f!(
        "ROUND",
        Number,
        "ROUND(number, [digits])",
        1,
        Some(2),
        [N, N],
        Number,
        Round
    ),
    f!(
        "TRUNC",
        Number,
        "TRUNC(number, [digits])",
        1,
        Some(2),
        [N, N],
        Number,
        Trunc
    ),
    f!("MIN", Number, "MIN(value, ...)", 1, None, [A], Any, Min),
    f!("MAX", Number, "MAX(value, ...)", 1, None, [A], Any, Max),
    f!(
        "MOD",
        Number,
        "MOD(number, divisor)",
        2,
        Some(2),
        [N, N],
        Number,
        Mod
    ),
    f!(
        "POW",
        Number,
        "POW(base, exponent)",
        2,
        Some(2),
        [N, N],
        Number,
        Pow
    ),
    f!(
        "SQRT",
        Number,
        "SQRT(number)",
        1,
        Some(1),
        [N],
        Number,
        Sqrt
    ),
    f!("LN", Number, "LN(number)", 1, Some(1), [N], Number, Ln),
    f!(
        "NUMBER",
        Number,
        "NUMBER(value)",
        1,
        Some(1),
        [A],
        Number,
        Number
    ),
    f!("LEN", Text, "LEN(text)", 1, Some(1), [A], Number, Len),
    f!("UPPER", Text, "UPPER(text)", 1, Some(1), [A], Text, Upper),
    f!("LOWER", Text, "LOWER(text)", 1, Some(1), [A], Text, Lower),
    f!("TRIM", Text, "TRIM(text)", 1, Some(1), [A], Text, Trim),
    f!(
        "LEFT",
        Text,
        "LEFT(text, count)",
        2,
        Some(2),
        [A, N],
        Text,
        Left
    ),
    f!(
        "RIGHT",
        Text,
        "RIGHT(text, count)",
        2,
        Some(2),
        [A, N],
        Text,
        Right
    ),
    f!(
        "MID",
        Text,
        "MID(text, start, count)",
        3,
        Some(3),
        [A, N, N],
        Text,
        Mid
    ),
    f!(
        "REPLACE",
        Text,
        "REPLACE(text, find, replacement)",
        3,
        Some(3),
        [A, A, A],
        Text,
        Replace
    ),
    f!(
        "CONTAINS",
        Text,
        "CONTAINS(text_or_list, value)",
        2,
        Some(2),
        [A, A],
        Bool,
        Contains
    ),
    f!(
        "SEARCH",
        Text,
        "SEARCH(find, text)",
        2,
        Some(2),
        [A, A],
        Number,
        Search
    ),
    f!(
        "STARTS_WITH",
        Text,
        "STARTS_WITH(text, prefix)",
        2,
        Some(2),
        [A, A],
        Bool,
        StartsWith
    ),
    f!(
        "ENDS_WITH",
        Text,
        "ENDS_WITH(text, suffix)",
        2,
        Some(2),
        [A, A],
        Bool,
        EndsWith
    ),
    f!(
        "CONCAT",
        Text,
        "CONCAT(value, ...)",
        1,
        None,
        [A],
        Text,
        Concat
    ),
    f!("TEXT", Text, "TEXT(value)", 1, Some(1), [A], Text, Text),
    f!(
        "FIXED",
        Text,
        "FIXED(number, decimals)",
        2,
        Some(2),
        [N, N],
        Text,
        Fixed
    ),
    f!(
        "REPEAT",
        Text,
        "REPEAT(text, count)",
        2,
        Some(2),
        [A, N],
        Text,
        Repeat
    ),
    f!(
        "EXACT",
        Text,
        "EXACT(a, b)",
        2,
        Some(2),
        [A, A],
        Bool,
        Exact
    ),
    f!(
        "IF",
        Logic,
        "IF(condition, then, [condition2, then2, ...], [else])",
        2,
        None,
        [A],
        Any,
        If
    ),
    f!(
        "CASE",
        Logic,
        "CASE(value, match1, result1, [match2, result2, ...], [default])",
        3,
        None,
        [A],
        Any,
        Case
    ),
    f!("AND", Logic, "AND(condition, ...)", 1, None, [A], Bool, And),
    f!("OR", Logic, "OR(condition, ...)", 1, None, [A], Bool, Or),
    f!("NOT", Logic, "NOT(condition)", 1, Some(1), [A], Bool, Not),
    f!(
        "ISEMPTY",
        Logic,
        "ISEMPTY(value)",
        1,
        Some(1),
        [A],
        Bool,
        IsEmpty
    ),
    f!(
        "DEFINED",
        Logic,
        "DEFINED(value)",
        1,
        Some(1),
        [A],
        Bool,
        Defined
    ),
    f!(
        "DEFAULT",
        Logic,
        "DEFAULT(value, fallback)",
        2,
        Some(2),
        [A, A],
        Any,
        Default
    ),
    f!("NOW", Date, "NOW()", 0, Some(0), [], DateTime, Now),
    f!("TODAY", Date, "TODAY()", 0, Some(0), [], Date, Today),
    f!(
        "DATE",
        Date,
        "DATE(year, month, day) or DATE(text)",
        1,
        Some(3),
        [A, N, N],
        Date,
        Date
    ),
    f!(
        "DATETIME",
        Date,
        "DATETIME(value)",
        1,
        Some(1),
        [D],
        DateTime,
        DateTime
    ),
    f!("YEAR", Date, "YEAR(date)", 1, Some(1), [D], Number, Year),
    f!("MONTH", Date, "MONTH(date)", 1, Some(1), [D], Number, Month),
    f!("DAY", Date, "DAY(date)", 1, Some(1), [D], Number, Day),
    f!(
        "WEEKDAY",
        Date,
        "WEEKDAY(date)",
        1,
        Some(1),
        [D],
        Number,
        Weekday
    ),
    f!(
        "DAYS_BETWEEN",
        Date,
        "DAYS_BETWEEN(from, to)",
        2,
        Some(2),
        [D, D],
        Number,
        DaysBetween
    ),
    f!(
        "DATE_ADD",
        Date,
        "DATE_ADD(date, amount, unit)",
        3,
        Some(3),
        [D, N, A],
        Any,
        DateAdd
    ),
    f!(
        "DATE_SUBTRACT",
        Date,
        "DATE_SUBTRACT(date, amount, unit)",
        3,
        Some(3),
        [D, N, A],
        Any,
        DateSubtract
    ),
    f!(
        "FORMAT_DATETIME",
        Date,
        "FORMAT_DATETIME(date, pattern)",
        2,
        Some(2),
        [D, A],
        Text,
        FormatDatetime
    ),
    f!(
        "WEEKS",
        Date,
        "WEEKS(number)",
        1,
        Some(1),
        [N],
        Duration,
        Weeks
    ),
    f!(
        "DAYS",
        Date,
        "DAYS(number)",
        1,
        Some(1),
        [N],
        Duration,
        Days
    ),
    f!(
        "HOURS",
        Date,
        "HOURS(number)",
        1,
        Some(1),
        [N],
        Duration,
        Hours
    ),
    f!(
        "MINUTES",
        Date,
        "MINUTES(number)",
        1,
        Some(1),
        [N],
        Duration,
        Minutes
    ),
    f!(
        "TO_DAYS",
        Date,
        "TO_DAYS(duration)",
        1,
        Some(1),
        [U],
        Number,
        ToDays
    ),
    f!(
        "TO_HOURS",
        Date,
        "TO_HOURS(duration)",
        1,
        Some(1),
        [U],
        Number,
        ToHours
    ),
    f!(
        "TO_MINUTES",
        Date,
        "TO_MINUTES(duration)",
        1,
        Some(1),
        [U],
        Number,
        ToMinutes
    ),
    f!("SIZE", List, "SIZE(list)", 1, Some(1), [A], Number, Size),
    f!(
        "JOIN",
        List,
        "JOIN(list, [separator])",
        1,
        Some(2),
        [A, A],
        Text,
        Join
    ),
    f!("ISLEAF", Row, "ISLEAF()", 0, Some(0), [], Bool, IsLeaf),
    f!("DEPTH", Row, "DEPTH()", 0, Some(0), [], Number, Depth),
];

/// Every scalar function, in reference-page order.
pub fn functions() -> &'static [FunctionInfo] {
    FUNCTIONS
}

pub(crate) fn lookup(name: &str) -> Option<&'static FunctionInfo> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Aggregate functions, written `NAME#modifier{expression}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Sum,
    Min,
    Max,
    Avg,
    Count,
    Distinct,
}

#[derive(Debug)]
pub struct AggregateInfo {
    pub name: &'static str,
    pub func: AggFunc,
    pub summary: &'static str,
}

static AGGREGATES: &[AggregateInfo] = &[
    AggregateInfo {
        name: "SUM",
        func: AggFunc::Sum,
        summary: "sum of the numbers or durations",
    },
    AggregateInfo {
        name: "MIN",
        func: AggFunc::Min,
        summary: "smallest value",
    },
    AggregateInfo {
        name: "MAX",
        func: AggFunc::Max,
        summary: "largest value",
    },
    AggregateInfo {
        name: "AVG",
        func: AggFunc::Avg,
        summary: "average of the numbers or durations",
    },
    AggregateInfo {
        name: "COUNT",
        func: AggFunc::Count,
        summary: "number of rows where the expression is true",
    },
    AggregateInfo {
        name: "DISTINCT",
        func: AggFunc::Distinct,
        summary: "list of the different values",
    },
];

pub fn aggregates() -> &'static [AggregateInfo] {
    AGGREGATES
}

/// Which rows an aggregate reads, relative to the row being computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The row itself and all rows below it (the default).
    All,
    /// All rows below the row, without the row itself.
    Descendants,
    /// The rows directly below the row.
    Children,
    /// The rows below (or the row itself) that have no children.
    Leaves,
}

/// A modifier as written after `#`.
#[derive(Debug)]
pub struct ModifierInfo {
    pub name: &'static str,
    /// `Some` for scope modifiers; `None` for `with_duplicates`.
    pub scope: Option<Scope>,
    pub summary: &'static str,
}

static MODIFIERS: &[ModifierInfo] = &[
    ModifierInfo {
        name: "all",
        scope: Some(Scope::All),
        summary: "the row and everything below it (default)",
    },
    ModifierInfo {
        name: "descendants",
        scope: Some(Scope::Descendants),
        summary: "everything below the row",
    },
    ModifierInfo {
        name: "children",
        scope: Some(Scope::Children),
        summary: "the rows directly below the row",
    },
    ModifierInfo {
        name: "leaves",
        scope: Some(Scope::Leaves),
        summary: "rows without children in the subtree",
    },
    ModifierInfo {
        name: "with_duplicates",
        scope: None,
        summary: "count an issue placed twice twice",
    },
];

pub fn modifiers() -> &'static [ModifierInfo] {
    MODIFIERS
}

/// What a strict function can see besides its arguments.
pub(crate) struct CallEnv<'a> {
    pub tz: &'a TimeZone,
    pub now: Timestamp,
    pub is_leaf: bool,
    pub depth: u32,
}

/// Longest text `REPEAT` builds, in characters: formulas must not be a way to exhaust memory.
const MAX_TEXT: usize = 100_000;

fn num(v: &Value) -> Result<Option<f64>, String> {
    to_number(v)
}

fn text_of(v: &Value) -> String {
    v.to_string()
}

/// A whole number from an argument (truncated toward zero), clamped to `lo..=hi`.
fn int_arg(v: &Value, lo: i64, hi: i64) -> Result<Option<i64>, String> {
    Ok(num(v)?.map(|n| {
        #[allow(clippy::cast_possible_truncation)] // saturating cast, then clamped
        let i = n.trunc() as i64;
        i.clamp(lo, hi)
    }))
}

fn count_arg(v: &Value) -> Result<Option<usize>, String> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=MAX_TEXT
    Ok(int_arg(v, 0, MAX_TEXT as i64)?.map(|i| i as usize))
}

/// Rounds (or truncates) `x` to `digits` decimals on its shortest decimal form, the digits people see, so
/// `ROUND(2.345, 2)` is 2.35 although the nearest double to 2.345 lies just below it.
fn round_decimal(x: f64, digits: i64, round_halves_up: bool) -> f64 {
    // Display for f64 never uses exponent notation and gives the shortest form that reads back exactly.
    let shown = format!("{}", x.abs());
    let (int_part, frac_part) = shown.split_once('.').unwrap_or((&shown, ""));
    let all: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let point = i64::try_from(int_part.len()).unwrap_or(i64::MAX);
    let cut = point.saturating_add(digits);
    let Ok(cut_at) = usize::try_from(cut) else {
        return 0.0;
    };
    if cut_at >= all.len() {
        return x;
    }
    let mut kept: Vec<u8> = all[..cut_at].to_vec();
    if round_halves_up && all[cut_at] >= b'5' {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let carried = kept.len() > cut_at;
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if digits <= 0 {
        for _ in 0..(-digits) {
            text.push('0');
        }
    } else {
        let int_len = int_part.len() + usize::from(carried);
        text.insert(int_len.min(text.len()), '.');
    }
    let magnitude = text.parse::<f64>().unwrap_or(0.0);
    if x < 0.0 { -magnitude } else { magnitude }
}

fn unary_num(args: &[Value], op: impl Fn(f64) -> f64) -> Result<Value, String> {
    Ok(num(&args[0])?.map_or(Value::Empty, |x| Value::number(op(x))))
}

fn text_map(args: &[Value], op: impl Fn(&str) -> String) -> Value {
    match &args[0] {
        Value::Empty => Value::Empty,
        v => Value::text(op(&text_of(v))),
    }
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Empty)
}

fn extreme(args: &[Value], want: std::cmp::Ordering, tz: &TimeZone) -> Result<Value, String> {
    let mut best: Option<&Value> = None;
    for v in args.iter().filter(|v| !v.is_empty()) {
        best = match best {
            Some(b) if compare(v, b, tz)? != want => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Empty))
}

fn duration_of(args: &[Value], unit_ms: f64) -> Result<Value, String> {
    match num(&args[0])? {
        None => Ok(Value::Empty),
        Some(n) => ms_from_f64(n * unit_ms).map(Value::Duration),
    }
}

fn duration_in(args: &[Value], unit_ms: f64) -> Result<Value, String> {
    Ok(to_duration(&args[0])?.map_or(Value::Empty, |ms| Value::number(ms_to_f64(ms) / unit_ms)))
}

fn date_part(args: &[Value], tz: &TimeZone, part: fn(Date) -> i64) -> Result<Value, String> {
    #[allow(clippy::cast_precision_loss)] // calendar numbers are small
    Ok(to_date(&args[0], tz)?.map_or(Value::Empty, |d| Value::Number(part(d) as f64)))
}

fn char_slice(s: &str, start: usize, count: usize) -> String {
    s.chars().skip(start).take(count).collect()
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// `DATE_ADD`: calendar units move the calendar; time units add an exact length of time.
fn date_add(args: &[Value], sign: f64, tz: &TimeZone) -> Result<Value, String> {
    let base = &args[0];
    let Some(amount) = num(&args[1])? else {
        return Ok(Value::Empty);
    };
    if base.is_empty() {
        return Ok(Value::Empty);
    }
    let unit = text_of(&args[2]).trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('s').unwrap_or(&unit);
    let amount = amount * sign;
    let ms_per = match unit {
        "year" | "month" => {
            #[allow(clippy::cast_possible_truncation)]
            // saturating; jiff rejects out-of-range spans
            let whole = amount.trunc() as i64;
            let span = if unit == "year" {
                CalSpan::new().try_years(whole)
            } else {
                CalSpan::new().try_months(whole)
            }
            .map_err(|_| "amount out of range".to_owned())?;
            return match base {
                Value::DateTime(t) => t
                    .to_zoned(tz.clone())
                    .checked_add(span)
                    .map(|z| Value::DateTime(z.timestamp()))
                    .map_err(|_| "date-time out of range".to_owned()),
                _ => match to_date(base, tz)? {
                    Some(d) => d
                        .checked_add(span)
                        .map(Value::Date)
                        .map_err(|_| "date out of range".to_owned()),
                    None => Ok(Value::Empty),
                },
            };
        }
        "week" => 7.0 * 86_400_000.0,
        "day" => 86_400_000.0,
        "hour" => 3_600_000.0,
        "minute" => 60_000.0,
        "second" => 1000.0,
        _ => {
            return Err(format!(
                "unknown unit '{unit}'; use years, months, weeks, days, hours, minutes or seconds"
            ));
        }
    };
    let duration = Value::Duration(ms_from_f64(amount * ms_per)?);
    let base = match base {
        Value::Text(_) => match to_date(base, tz)? {
            Some(d) => Value::Date(d),
            None => return Ok(Value::Empty),
        },
        other => other.clone(),
    };
    binary(BinaryOp::Add, &base, &duration, tz)
}

fn format_datetime(args: &[Value], tz: &TimeZone) -> Result<Value, String> {
    let pattern = text_of(&args[1]);
    let formatted = match &args[0] {
        Value::Empty => return Ok(Value::Empty),
        Value::DateTime(t) => {
            jiff::fmt::strtime::format(pattern.as_bytes(), &t.to_zoned(tz.clone()))
        }
        other => match to_date(other, tz)? {
            Some(d) => jiff::fmt::strtime::format(pattern.as_bytes(), d),
            None => return Ok(Value::Empty),
        },
    };
    formatted.map(Value::text).map_err(|e| {
        format!(
            "cannot format with pattern {}: {e}",
            Value::text(pattern).repr()
        )
    })
}

fn date_fn(args: &[Value], tz: &TimeZone) -> Result<Value, String> {
    if args.len() == 1 {
        return match &args[0] {
            Value::Text(s) => Ok(to_date(&Value::Text(s.clone()), tz)
                .ok()
                .flatten()
                .map_or(Value::Empty, Value::Date)),
            other => Ok(to_date(other, tz)?.map_or(Value::Empty, Value::Date)),
        };
    }
    if args.len() != 3 {
        return Err(
            "DATE takes one argument (text or date) or three (year, month, day)".to_owned(),
        );
    }
    let (Some(y), Some(m), Some(d)) = (
        int_arg(&args[0], -9999, 9999)?,
        int_arg(&args[1], 0, 99)?,
        int_arg(&args[2], 0, 99)?,
    ) else {
        return Ok(Value::Empty);
    };
    let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(y), i8::try_from(m), i8::try_from(d)) else {
        return Ok(Value::Empty);
    };
    Ok(Date::new(y, m, d).map_or(Value::Empty, Value::Date))
}

/// Calls a strict function with evaluated arguments; arity has been checked already.
pub(crate) fn call(func: Func, args: &[Value], env: &CallEnv<'_>) -> Result<Value, String> {
    let tz = env.tz;
    match func {
        Func::Abs => unary_num(args, f64::abs),
        Func::Ceiling => unary_num(args, f64::ceil),
        Func::Floor => unary_num(args, f64::floor),
        Func::Round | Func::Trunc => {
            let Some(x) = num(&args[0])? else {
                return Ok(Value::Empty);
            };
            let digits = if args.len() > 1 {
                int_arg(&args[1], -15, 15)?.unwrap_or(0)
            } else {
                0
            };
            Ok(Value::number(round_decimal(x, digits, func == Func::Round)))
        }
        Func::Min => extreme(args, std::cmp::Ordering::Less, tz),
        Func::Max => extreme(args, std::cmp::Ordering::Greater, tz),
        Func::Mod => match (num(&args[0])?, num(&args[1])?) {
            (Some(x), Some(y)) => Ok(floored_mod(x, y)),
            _ => Ok(Value::Empty),
        },
        Func::Pow => match (num(&args[0])?, num(&args[1])?) {
            (Some(x), Some(y)) => Ok(Value::number(x.powf(y))),
            _ => Ok(Value::Empty),
        },
        Func::Sqrt => unary_num(args, |x| if x < 0.0 { f64::NAN } else { x.sqrt() }),
        Func::Ln => unary_num(args, |x| if x <= 0.0 { f64::NAN } else { x.ln() }),
        Func::Number => Ok(to_number(&args[0])
            .ok()
            .flatten()
            .map_or(Value::Empty, Value::number)),
        #[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
        Func::Len => Ok(Value::Number(text_of(&args[0]).chars().count() as f64)),
        Func::Upper => Ok(text_map(args, str::to_uppercase)),
        Func::Lower => Ok(text_map(args, str::to_lowercase)),
        Func::Trim => Ok(text_map(args, |s| s.trim().to_owned())),
        Func::Left => {
            let Some(n) = count_arg(&args[1])? else {
                return Ok(Value::Empty);
            };
            Ok(text_map(args, |s| char_slice(s, 0, n)))
        }
        Func::Right => {
            let Some(n) = count_arg(&args[1])? else {
                return Ok(Value::Empty);
            };
            Ok(text_map(args, |s| {
                let len = s.chars().count();
                char_slice(s, len.saturating_sub(n), n)
            }))
        }
        Func::Mid => {
            let (Some(start), Some(n)) = (count_arg(&args[1])?, count_arg(&args[2])?) else {
                return Ok(Value::Empty);
            };
            Ok(text_map(args, |s| {
                char_slice(s, start.saturating_sub(1), n)
            }))
        }
        Func::Replace => {
            let find = text_of(&args[1]);
            let with = text_of(&args[2]);
            Ok(text_map(args, |s| {
                if find.is_empty() {
                    s.to_owned()
                } else {
                    s.replace(&find, &with)
                }
            }))
        }
        Func::Contains => Ok(Value::Bool(match (&args[0], &args[1]) {
            (_, Value::Empty) | (Value::Empty, _) => false,
            (Value::List(items), needle) => items.iter().any(|i| equal(i, needle, tz)),
            (hay, needle) => lower(&text_of(hay)).contains(&lower(&text_of(needle))),
        })),
        Func::Search => {
            let (find, within) = (lower(&text_of(&args[0])), lower(&text_of(&args[1])));
            if find.is_empty() || within.is_empty() {
                return Ok(Value::Empty);
            }
            #[allow(clippy::cast_precision_loss)] // positions are far below 2^53
            Ok(within.find(&find).map_or(Value::Empty, |at| {
                Value::Number((within[..at].chars().count() + 1) as f64)
            }))
        }
        Func::StartsWith => Ok(Value::Bool(
            !args[0].is_empty()
                && lower(&text_of(&args[0])).starts_with(&lower(&text_of(&args[1]))),
        )),
        Func::EndsWith => Ok(Value::Bool(
            !args[0].is_empty() && lower(&text_of(&args[0])).ends_with(&lower(&text_of(&args[1]))),
        )),
        Func::Concat => Ok(Value::text(args.iter().map(text_of).collect::<String>())),
        Func::Text => Ok(Value::text(text_of(&args[0]))),
        Func::Fixed => {
            let (Some(x), Some(d)) = (num(&args[0])?, int_arg(&args[1], 0, 15)?) else {
                return Ok(Value::Empty);
            };
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)] // clamped to 0..=15
            let d = d as usize;
            Ok(Value::text(format!(
                "{:.d$}",
                round_decimal(x, i64::try_from(d).unwrap_or(0), true)
            )))
        }
        Func::Repeat => {
            let Some(n) = count_arg(&args[1])? else {
                return Ok(Value::Empty);
            };
            let s = text_of(&args[0]);
            if s.chars().count().saturating_mul(n) > MAX_TEXT {
                return Err(format!(
                    "REPEAT would build more than {MAX_TEXT} characters"
                ));
            }
            Ok(Value::text(s.repeat(n)))
        }
        Func::Exact => Ok(Value::Bool(args[0] == args[1])),
        Func::IsEmpty => Ok(Value::Bool(args[0].is_empty())),
        Func::Defined => Ok(Value::Bool(!args[0].is_empty())),
        Func::Default => Ok(if args[0].is_empty() {
            args[1].clone()
        } else {
            args[0].clone()
        }),
        Func::Now => Ok(Value::DateTime(env.now)),
        Func::Today => Ok(Value::Date(env.now.to_zoned(tz.clone()).date())),
        Func::Date => date_fn(args, tz),
        Func::DateTime => Ok(to_datetime(&args[0], tz)?.map_or(Value::Empty, Value::DateTime)),
        Func::Year => date_part(args, tz, |d| i64::from(d.year())),
        Func::Month => date_part(args, tz, |d| i64::from(d.month())),
        Func::Day => date_part(args, tz, |d| i64::from(d.day())),
        Func::Weekday => date_part(args, tz, |d| i64::from(d.weekday().to_monday_one_offset())),
        Func::DaysBetween => match (to_date(&args[0], tz)?, to_date(&args[1], tz)?) {
            #[allow(clippy::cast_precision_loss)] // day counts are small
            (Some(a), Some(b)) => Ok(Value::Number((epoch_days(b) - epoch_days(a)) as f64)),
            _ => Ok(Value::Empty),
        },
        Func::DateAdd => date_add(args, 1.0, tz),
        Func::DateSubtract => date_add(args, -1.0, tz),
        Func::FormatDatetime => format_datetime(args, tz),
        Func::Weeks => duration_of(args, 7.0 * 86_400_000.0),
        Func::Days => match num(&args[0])? {
            None => Ok(Value::Empty),
            Some(n) => days_to_ms(n).map(Value::Duration),
        },
        Func::Hours => duration_of(args, 3_600_000.0),
        Func::Minutes => duration_of(args, 60_000.0),
        Func::ToDays => duration_in(args, 86_400_000.0),
        Func::ToHours => duration_in(args, 3_600_000.0),
        Func::ToMinutes => duration_in(args, 60_000.0),
        Func::Size => Ok(Value::Number(match &args[0] {
            Value::Empty => 0.0,
            #[allow(clippy::cast_precision_loss)] // list sizes are far below 2^53
            Value::List(items) => items.len() as f64,
            _ => 1.0,
        })),
        Func::Join => {
            let sep = if args.len() > 1 {
                text_of(arg(args, 1))
            } else {
                ", ".to_owned()
            };
            Ok(match &args[0] {
                Value::List(items) => Value::text(
                    items
                        .iter()
                        .filter(|v| !v.is_empty())
                        .map(text_of)
                        .collect::<Vec<_>>()
                        .join(&sep),
                ),
                other => Value::text(text_of(other)),
            })
        }
        Func::IsLeaf => Ok(Value::Bool(env.is_leaf)),
        Func::Depth => Ok(Value::Number(f64::from(env.depth))),
        Func::If | Func::Case | Func::And | Func::Or | Func::Not => Err(format!(
            "{func:?} is evaluated lazily and cannot be called directly"
        )),
    }
}
