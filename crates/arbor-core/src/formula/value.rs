//! Formula values and the rules that combine them: conversions, equality, ordering and operators.
//!
//! Invariants, kept by every constructor the engine uses ([`Value::number`], [`Value::text`],
//! [`Value::list`], [`Value::normalized`]):
//! - numbers are finite: an operation whose result would be infinite or NaN gives `Empty`;
//! - text with no characters is `Empty`, and so is a list with no elements, so "is it empty?" has one answer.
//!
//! Operators return `Err(message)` on a type mismatch; the evaluator adds the position.

use std::cmp::Ordering;
use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

const MS_PER_DAY: i64 = 86_400_000;

/// A value a formula computes or reads from a row.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value: a field that is not set, a division by zero, a missing result.
    #[default]
    Empty,
    Number(f64),
    Text(String),
    Bool(bool),
    /// A calendar date without time or zone (due dates).
    Date(Date),
    /// An instant (created, updated, resolved).
    DateTime(Timestamp),
    /// A length of time in milliseconds.
    Duration(i64),
    /// Several values: multi-value fields such as labels, and the result of `DISTINCT`.
    List(Vec<Value>),
}

impl Value {
    /// A number, or `Empty` if it is not finite.
    pub fn number(n: f64) -> Value {
        if n.is_finite() {
            // -0 would print as "-0"; nobody means it.
            Value::Number(if n == 0.0 { 0.0 } else { n })
        } else {
            Value::Empty
        }
    }

    /// Text, or `Empty` if it has no characters.
    pub fn text(s: impl Into<String>) -> Value {
        let s = s.into();
        if s.is_empty() {
            Value::Empty
        } else {
            Value::Text(s)
        }
    }

    /// A list, or `Empty` if it has no elements.
    pub fn list(items: Vec<Value>) -> Value {
        if items.is_empty() {
            Value::Empty
        } else {
            Value::List(items)
        }
    }

    /// The same value with the invariants above restored (for values that come from outside).
    pub fn normalized(self) -> Value {
        match self {
            Value::Number(n) => Value::number(n),
            Value::Text(s) => Value::text(s),
            Value::List(items) => Value::list(items.into_iter().map(Value::normalized).collect()),
            other => other,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Empty)
    }

    /// The name of the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Empty => "empty",
            Value::Number(_) => "a number",
            Value::Text(_) => "text",
            Value::Bool(_) => "a boolean",
            Value::Date(_) => "a date",
            Value::DateTime(_) => "a date-time",
            Value::Duration(_) => "a duration",
            Value::List(_) => "a list",
        }
    }

    /// Truthiness for `IF`, `AND`, `OR`, `NOT` and `COUNT`: `Empty`, `FALSE`, `0` and a zero duration are
    /// false; everything else is true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Empty => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0,
            Value::Duration(ms) => *ms != 0,
            Value::Text(_) | Value::Date(_) | Value::DateTime(_) | Value::List(_) => true,
        }
    }

    /// The value written as a formula would write it: text quoted, dates bare. Used by the reference page.
    pub fn repr(&self) -> String {
        match self {
            Value::Empty => "EMPTY".to_owned(),
            Value::Text(s) => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
            Value::List(items) => {
                let inner: Vec<String> = items.iter().map(Value::repr).collect();
                format!("[{}]", inner.join(", "))
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    /// The text shown in a grid cell and produced by `TEXT` and `&`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty => Ok(()),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Text(s) => f.write_str(s),
            Value::Bool(true) => f.write_str("TRUE"),
            Value::Bool(false) => f.write_str("FALSE"),
            Value::Date(d) => write!(f, "{d}"),
            Value::DateTime(t) => write!(f, "{t}"),
            Value::Duration(ms) => f.write_str(&format_duration(*ms)),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
        }
    }
}

/// Integers print without decimals; other numbers with at most ten decimals, so float noise such as
/// `0.1 + 0.2` shows as `0.3`.
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)] // checked just above: integral and in range
        let i = n as i64;
        return i.to_string();
    }
    let s = format!("{n:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// `1d 2h 30m`, `45s`, `-3d`, `0s`: days, hours, minutes, seconds and milliseconds that are not zero.
pub(crate) fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut rest = ms.unsigned_abs();
    let mut parts = Vec::new();
    for (unit, size) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        let count = rest / size;
        rest %= size;
        if count > 0 {
            parts.push(format!("{count}{unit}"));
        }
    }
    let sign = if ms < 0 { "-" } else { "" };
    format!("{sign}{}", parts.join(" "))
}

/// Text that reads as a number (surrounding spaces allowed).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    // Rust also accepts "inf" and "nan"; a formula never means those.
    if t.is_empty()
        || t.chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number from a value: `Ok(None)` for `Empty`; booleans are 1 and 0; text must read as a number.
pub(crate) fn to_number(v: &Value) -> Result<Option<f64>, String> {
    match v {
        Value::Empty => Ok(None),
        Value::Number(n) => Ok(Some(*n)),
        Value::Bool(b) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Value::Text(s) => match parse_number(s) {
            Some(n) => Ok(Some(n)),
            None => Err(format!("expected a number, got text {}", v.repr())),
        },
        other => Err(format!("expected a number, got {}", other.type_name())),
    }
}

/// A calendar date: date-times are taken in the context's time zone; text must be `YYYY-MM-DD` or a timestamp.
pub(crate) fn to_date(v: &Value, tz: &TimeZone) -> Result<Option<Date>, String> {
    match v {
        Value::Empty => Ok(None),
        Value::Date(d) => Ok(Some(*d)),
        Value::DateTime(t) => Ok(Some(t.to_zoned(tz.clone()).date())),
        Value::Text(s) => match parse_date_text(s.trim()) {
            Some(Value::Date(d)) => Ok(Some(d)),
            Some(Value::DateTime(t)) => Ok(Some(t.to_zoned(tz.clone()).date())),
            _ => Err(format!("expected a date, got text {}", v.repr())),
        },
        other => Err(format!("expected a date, got {}", other.type_name())),
    }
}

/// An instant: a date means its midnight in the context's time zone.
pub(crate) fn to_datetime(v: &Value, tz: &TimeZone) -> Result<Option<Timestamp>, String> {
    match v {
        Value::Empty => Ok(None),
        Value::DateTime(t) => Ok(Some(*t)),
        Value::Date(d) => date_start(*d, tz).map(Some),
        Value::Text(s) => match parse_date_text(s.trim()) {
            Some(Value::DateTime(t)) => Ok(Some(t)),
            Some(Value::Date(d)) => date_start(d, tz).map(Some),
            _ => Err(format!("expected a date-time, got text {}", v.repr())),
        },
        other => Err(format!("expected a date-time, got {}", other.type_name())),
    }
}

pub(crate) fn to_duration(v: &Value) -> Result<Option<i64>, String> {
    match v {
        Value::Empty => Ok(None),
        Value::Duration(ms) => Ok(Some(*ms)),
        other => Err(format!("expected a duration, got {}", other.type_name())),
    }
}

pub(crate) fn parse_date_text(s: &str) -> Option<Value> {
    if let Ok(d) = s.parse::<Date>() {
        return Some(Value::Date(d));
    }
    s.parse::<Timestamp>().ok().map(Value::DateTime)
}

pub(crate) fn date_start(d: Date, tz: &TimeZone) -> Result<Timestamp, String> {
    d.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| format!("date out of range: {e}"))
}

/// Days since 1970-01-01 (negative before).
pub(crate) fn epoch_days(d: Date) -> i64 {
    d.duration_since(Date::constant(1970, 1, 1)).as_secs() / 86_400
}

fn add_ms_to_date(d: Date, ms: i64, tz: &TimeZone) -> Result<Value, String> {
    if ms % MS_PER_DAY == 0 {
        d.checked_add(SignedDuration::from_millis(ms))
            .map(Value::Date)
            .map_err(|_| "date out of range".to_owned())
    } else {
        add_ms_to_timestamp(date_start(d, tz)?, ms)
    }
}

fn add_ms_to_timestamp(t: Timestamp, ms: i64) -> Result<Value, String> {
    t.checked_add(SignedDuration::from_millis(ms))
        .map(Value::DateTime)
        .map_err(|_| "date-time out of range".to_owned())
}

/// Milliseconds in `days` days, rounded; an error if it does not fit.
pub(crate) fn days_to_ms(days: f64) -> Result<i64, String> {
    ms_from_f64(days * 86_400_000.0)
}

pub(crate) fn ms_from_f64(ms: f64) -> Result<i64, String> {
    // i64 holds ±292 million years of milliseconds; anything near that is a mistake.
    const LIMIT: f64 = 9.0e18;
    if ms.is_finite() && ms.abs() < LIMIT {
        #[allow(clippy::cast_possible_truncation)] // bounded just above
        Ok(ms.round() as i64)
    } else {
        Err("duration out of range".to_owned())
    }
}

#[allow(clippy::cast_precision_loss)] // durations far below 2^53 ms are exact
pub(crate) fn ms_to_f64(ms: i64) -> f64 {
    ms as f64
}

/// Binary operators after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Concat => "&",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

/// Applies a strict binary operator (everything but `AND`/`OR`, which short-circuit in the evaluator).
pub(crate) fn binary(op: BinaryOp, a: &Value, b: &Value, tz: &TimeZone) -> Result<Value, String> {
    match op {
        BinaryOp::Add => add(a, b, tz),
        BinaryOp::Sub => sub(a, b, tz),
        BinaryOp::Mul => mul(a, b),
        BinaryOp::Div => div(a, b),
        BinaryOp::Rem => rem(a, b),
        BinaryOp::Concat => Ok(Value::text(format!("{a}{b}"))),
        BinaryOp::Eq => Ok(Value::Bool(equal(a, b, tz))),
        BinaryOp::Ne => Ok(Value::Bool(!equal(a, b, tz))),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => ordering_op(op, a, b, tz),
        BinaryOp::And => Ok(Value::Bool(a.is_truthy() && b.is_truthy())),
        BinaryOp::Or => Ok(Value::Bool(a.is_truthy() || b.is_truthy())),
    }
}

fn ordering_op(op: BinaryOp, a: &Value, b: &Value, tz: &TimeZone) -> Result<Value, String> {
    // Ordering with an empty side is FALSE, so `due_date < TODAY()` never flags an issue without a due date;
    // two empties are equal, so `<=` and `>=` hold between them.
    let ord = match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, false) => compare(a, b, tz)?,
        _ => return Ok(Value::Bool(false)),
    };
    let result = match op {
        BinaryOp::Lt => ord == Ordering::Less,
        BinaryOp::Le => ord != Ordering::Greater,
        BinaryOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    };
    Ok(Value::Bool(result))
}

fn numeric_pair(a: &Value, b: &Value) -> Option<(f64, f64)> {
    let x = to_number(a).ok()??;
    let y = to_number(b).ok()??;
    Some((x, y))
}

fn is_numberish(v: &Value) -> bool {
    matches!(v, Value::Number(_) | Value::Bool(_))
        || matches!(v, Value::Text(s) if parse_number(s).is_some())
}

fn type_error(op: &str, a: &Value, b: &Value) -> String {
    let mut msg = format!(
        "cannot apply '{op}' to {} and {}",
        a.type_name(),
        b.type_name()
    );
    if op == "+" && (matches!(a, Value::Text(_)) || matches!(b, Value::Text(_))) {
        msg.push_str("; use & to join text");
    }
    msg
}

fn add(a: &Value, b: &Value, tz: &TimeZone) -> Result<Value, String> {
    match (a, b) {
        (Value::Empty, Value::Empty) => Ok(Value::Empty),
        // EMPTY is the zero of `+`: a missing estimate does not wipe out a sum.
        (Value::Empty, x) | (x, Value::Empty) => match x {
            Value::Duration(_) | Value::Date(_) | Value::DateTime(_) => Ok(x.clone()),
            _ => match to_number(x) {
                Ok(n) => Ok(Value::number(n.unwrap_or(0.0))),
                Err(_) => Err(type_error("+", a, b)),
            },
        },
        (Value::Duration(x), Value::Duration(y)) => x
            .checked_add(*y)
            .map(Value::Duration)
            .ok_or_else(|| "duration out of range".to_owned()),
        (Value::Date(d), Value::Duration(ms)) | (Value::Duration(ms), Value::Date(d)) => {
            add_ms_to_date(*d, *ms, tz)
        }
        (Value::DateTime(t), Value::Duration(ms)) | (Value::Duration(ms), Value::DateTime(t)) => {
            add_ms_to_timestamp(*t, *ms)
        }
        (Value::Date(d), n) | (n, Value::Date(d)) if is_numberish(n) => {
            add_ms_to_date(*d, days_to_ms(to_number(n)?.unwrap_or(0.0))?, tz)
        }
        (Value::DateTime(t), n) | (n, Value::DateTime(t)) if is_numberish(n) => {
            add_ms_to_timestamp(*t, days_to_ms(to_number(n)?.unwrap_or(0.0))?)
        }
        _ => match numeric_pair(a, b) {
            Some((x, y)) => Ok(Value::number(x + y)),
            None => Err(type_error("+", a, b)),
        },
    }
}

fn sub(a: &Value, b: &Value, tz: &TimeZone) -> Result<Value, String> {
    match (a, b) {
        (Value::Empty, Value::Empty) => Ok(Value::Empty),
        (x, Value::Empty) => match x {
            Value::Duration(_) | Value::Date(_) | Value::DateTime(_) => Ok(x.clone()),
            _ => to_number(x)
                .map(|n| Value::number(n.unwrap_or(0.0)))
                .map_err(|_| type_error("-", a, b)),
        },
        (Value::Empty, x) => match x {
            Value::Duration(ms) => Ok(Value::Duration(-ms)),
            // There is no "negative date": EMPTY minus a date stays EMPTY.
            Value::Date(_) | Value::DateTime(_) => Ok(Value::Empty),
            _ => to_number(x)
                .map(|n| Value::number(-n.unwrap_or(0.0)))
                .map_err(|_| type_error("-", a, b)),
        },
        (Value::Duration(x), Value::Duration(y)) => x
            .checked_sub(*y)
            .map(Value::Duration)
            .ok_or_else(|| "duration out of range".to_owned()),
        (Value::Date(x), Value::Date(y)) => Ok(Value::Duration(
            (epoch_days(*x) - epoch_days(*y)) * MS_PER_DAY,
        )),
        (Value::Date(_) | Value::DateTime(_), Value::Date(_) | Value::DateTime(_)) => {
            let (Some(x), Some(y)) = (to_datetime(a, tz)?, to_datetime(b, tz)?) else {
                return Ok(Value::Empty);
            };
            Ok(Value::Duration(x.as_millisecond() - y.as_millisecond()))
        }
        (Value::Date(d), Value::Duration(ms)) => add_ms_to_date(*d, -ms, tz),
        (Value::DateTime(t), Value::Duration(ms)) => add_ms_to_timestamp(*t, -ms),
        (Value::Date(d), n) if is_numberish(n) => {
            add_ms_to_date(*d, -days_to_ms(to_number(n)?.unwrap_or(0.0))?, tz)
        }
        (Value::DateTime(t), n) if is_numberish(n) => {
            add_ms_to_timestamp(*t, -days_to_ms(to_number(n)?.unwrap_or(0.0))?)
        }
        _ => match numeric_pair(a, b) {
            Some((x, y)) => Ok(Value::number(x - y)),
            None => Err(type_error("-", a, b)),
        },
    }
}

fn mul(a: &Value, b: &Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Empty, _) | (_, Value::Empty) => Ok(Value::Empty),
        (Value::Duration(ms), n) | (n, Value::Duration(ms)) if is_numberish(n) => {
            let factor = to_number(n)?.unwrap_or(0.0);
            ms_from_f64(ms_to_f64(*ms) * factor).map(Value::Duration)
        }
        _ => match numeric_pair(a, b) {
            Some((x, y)) => Ok(Value::number(x * y)),
            None => Err(type_error("*", a, b)),
        },
    }
}

fn div(a: &Value, b: &Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Empty, _) | (_, Value::Empty) => Ok(Value::Empty),
        (Value::Duration(x), Value::Duration(y)) => {
            Ok(Value::number(ms_to_f64(*x) / ms_to_f64(*y)))
        }
        (Value::Duration(ms), n) if is_numberish(n) => {
            let divisor = to_number(n)?.unwrap_or(0.0);
            if divisor == 0.0 {
                return Ok(Value::Empty);
            }
            ms_from_f64(ms_to_f64(*ms) / divisor).map(Value::Duration)
        }
        // Division by zero is EMPTY through `Value::number`, which drops the infinity.
        _ => match numeric_pair(a, b) {
            Some((x, y)) => Ok(Value::number(x / y)),
            None => Err(type_error("/", a, b)),
        },
    }
}

/// Floored remainder: the result has the sign of the divisor, as in spreadsheets (`-3 % 2 = 1`).
pub(crate) fn floored_mod(x: f64, y: f64) -> Value {
    if y == 0.0 {
        return Value::Empty;
    }
    let r = x % y;
    Value::number(if r != 0.0 && (r < 0.0) != (y < 0.0) {
        r + y
    } else {
        r
    })
}

fn rem(a: &Value, b: &Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Empty, _) | (_, Value::Empty) => Ok(Value::Empty),
        _ => match numeric_pair(a, b) {
            Some((x, y)) => Ok(floored_mod(x, y)),
            None => Err(type_error("%", a, b)),
        },
    }
}

/// Numbers are equal when they agree to about 12 significant digits, so `0.1 + 0.2 = 0.3` holds.
fn numbers_equal(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
}

fn text_key(s: &str) -> String {
    s.to_lowercase()
}

/// `=`: never an error. Text compares without regard to case; text that reads as a number equals that number;
/// a date equals the date-time of its midnight; values of unrelated types are simply unequal.
pub(crate) fn equal(a: &Value, b: &Value, tz: &TimeZone) -> bool {
    match (a, b) {
        (Value::Empty, Value::Empty) => true,
        (Value::Empty, _) | (_, Value::Empty) => false,
        (Value::Text(x), Value::Text(y)) => x == y || text_key(x) == text_key(y),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q, tz))
        }
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Date(x), Value::Date(y)) => x == y,
        (Value::Date(_) | Value::DateTime(_), Value::Date(_) | Value::DateTime(_)) => {
            matches!((to_datetime(a, tz), to_datetime(b, tz)), (Ok(Some(x)), Ok(Some(y))) if x == y)
        }
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ if is_numberish(a) && is_numberish(b) => {
            numeric_pair(a, b).is_some_and(|(x, y)| numbers_equal(x, y))
        }
        _ => false,
    }
}

/// Ordering of two non-empty values of comparable types; an error for unrelated types.
pub(crate) fn compare(a: &Value, b: &Value, tz: &TimeZone) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Text(x), Value::Text(y))
            if parse_number(x).is_none() || parse_number(y).is_none() =>
        {
            Ok(text_key(x).cmp(&text_key(y)))
        }
        (Value::Duration(x), Value::Duration(y)) => Ok(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Ok(x.cmp(y)),
        (Value::Date(_) | Value::DateTime(_), Value::Date(_) | Value::DateTime(_)) => {
            match (to_datetime(a, tz)?, to_datetime(b, tz)?) {
                (Some(x), Some(y)) => Ok(x.cmp(&y)),
                _ => Ok(Ordering::Equal),
            }
        }
        _ if is_numberish(a) && is_numberish(b) => match numeric_pair(a, b) {
            Some((x, y)) if numbers_equal(x, y) => Ok(Ordering::Equal),
            Some((x, y)) => Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal)),
            None => Ok(Ordering::Equal),
        },
        _ => Err(format!(
            "cannot compare {} with {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

/// A key that identifies a value exactly (for `DISTINCT`); numbers by their bits, text by its characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ValueKey {
    Number(u64),
    Text(String),
    Bool(bool),
    Date(Date),
    DateTime(Timestamp),
    Duration(i64),
    List(Vec<ValueKey>),
    Empty,
}

pub(crate) fn value_key(v: &Value) -> ValueKey {
    match v {
        Value::Empty => ValueKey::Empty,
        Value::Number(n) => ValueKey::Number(n.to_bits()),
        Value::Text(s) => ValueKey::Text(s.clone()),
        Value::Bool(b) => ValueKey::Bool(*b),
        Value::Date(d) => ValueKey::Date(*d),
        Value::DateTime(t) => ValueKey::DateTime(*t),
        Value::Duration(ms) => ValueKey::Duration(*ms),
        Value::List(items) => ValueKey::List(items.iter().map(value_key).collect()),
    }
}
