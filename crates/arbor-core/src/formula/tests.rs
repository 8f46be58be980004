//! Tests of the formula language. The reference page `docs/formulas.md` is itself a test: every example in
//! its tables is evaluated and every error message checked, and every registered function, aggregate and
//! modifier must appear there.

use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::{Offset, TimeZone};
use proptest::prelude::*;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The structure shown on the reference page.
fn sample() -> MemoryForest {
    let mut f = MemoryForest::new(ts("2024-05-15T12:00:00Z"));
    let text = |s: &str| Value::Text(s.to_owned());
    let labels =
        |ls: &[&str]| Value::List(ls.iter().map(|l| Value::Text((*l).to_owned())).collect());
    f.set_issue(
        100,
        [
            ("summary", text("Checkout revamp")),
            ("story_points", Value::Number(3.0)),
            ("status", text("In Progress")),
            ("due_date", Value::Date(date(2024, 6, 30))),
            ("created", Value::DateTime(ts("2024-05-01T09:30:00Z"))),
            ("labels", labels(&["payments", "ux"])),
        ],
    );
    f.set_issue(
        101,
        [
            ("summary", text("Card form")),
            ("story_points", Value::Number(5.0)),
            ("status", text("Done")),
            ("time_spent", Value::Duration(6 * 3_600_000)),
            ("labels", labels(&["ux"])),
        ],
    );
    f.set_issue(
        103,
        [
            ("summary", text("Validate card number")),
            ("story_points", Value::Number(2.0)),
            ("status", text("Done")),
            ("time_spent", Value::Duration(2 * 3_600_000)),
        ],
    );
    f.set_issue(
        104,
        [
            ("summary", text("Style the form")),
            ("story_points", Value::Number(3.0)),
            ("status", text("To Do")),
            ("time_spent", Value::Duration(90 * 60_000)),
        ],
    );
    f.set_issue(
        102,
        [
            ("summary", text("Receipts")),
            ("story_points", Value::Number(8.0)),
            ("status", text("To Do")),
        ],
    );
    f.push_issue(0, 100);
    f.push_issue(1, 101);
    f.push_issue(2, 103);
    f.push_issue(2, 104);
    f.push_issue(1, 102);
    f.push_issue(2, 103);
    f
}

fn eval_at(src: &str, ctx: &dyn RowContext, row: usize) -> Result<Value, FormulaError> {
    Formula::compile(src)?.evaluate(ctx, row)
}

fn eval(src: &str) -> Value {
    match eval_at(src, &sample(), 0) {
        Ok(v) => v,
        Err(e) => panic!("{src}: {e}"),
    }
}

fn err(src: &str) -> FormulaError {
    match eval_at(src, &sample(), 0) {
        Ok(v) => panic!("{src}: expected an error, got {}", v.repr()),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The reference page

fn reference_page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formulas.md");
    std::fs::read_to_string(path).expect("docs/formulas.md exists")
}

/// Cells of a Markdown table row; `\|` is a literal bar.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                out.last_mut().unwrap().push('|');
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

fn code(cell: &str) -> Option<String> {
    let c = cell.trim();
    if let Some(inner) = c.strip_prefix("`` ").and_then(|c| c.strip_suffix(" ``")) {
        return Some(inner.to_owned());
    }
    let inner = c.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then(|| inner.to_owned())
}

/// `(example, expected result)` from every table row whose last two cells are code.
fn examples(page: &str) -> Vec<(String, String)> {
    let errors_at = page.find("## Error messages").unwrap();
    page[..errors_at]
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| {
            let c = cells(l);
            if c.len() < 2 {
                return None;
            }
            Some((code(&c[c.len() - 2])?, code(&c[c.len() - 1])?))
        })
        .collect()
}

#[test]
fn formula_reference_examples_evaluate_as_documented() {
    let page = reference_page();
    let forest = sample();
    let examples = examples(&page);
    assert!(
        examples.len() > 140,
        "found only {} examples",
        examples.len()
    );
    let mut failures = Vec::new();
    for (src, expected) in &examples {
        let formula = match Formula::compile(src) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{src}: {e}"));
                continue;
            }
        };
        match formula.evaluate(&forest, 0) {
            Ok(v) if v.repr() == *expected => {}
            Ok(v) => failures.push(format!("{src}: expected {expected}, got {}", v.repr())),
            Err(e) => failures.push(format!("{src}: expected {expected}, got error {e}")),
        }
        let all = formula.evaluate_all(&forest);
        match &all[0] {
            Ok(v) if v.repr() == *expected => {}
            other => failures.push(format!("{src}: evaluate_all gave {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} examples differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn formula_reference_error_messages_are_exact() {
    let page = reference_page();
    let section = &page[page.find("## Error messages").unwrap()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let forest = sample();
    let mut count = 0;
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let c = cells(line);
        let src = code(&c[0]).unwrap();
        let message = eval_at(&src, &forest, 0)
            .map_or_else(|e| e.to_string(), |v| format!("no error: {}", v.repr()));
        assert_eq!(message, c[1], "for {src}");
        count += 1;
    }
    assert!(count >= 15);
    let multi = "IF(story_points > 3,\n   \"big\",\n   \"small\"";
    let e = Formula::compile(multi).unwrap_err();
    assert!(section.contains(&format!("gives \"{e}\"")), "{e}");
}

#[test]
fn formula_reference_lists_every_function_aggregate_and_modifier() {
    let page = reference_page();
    let examples = examples(&page);
    for f in functions() {
        assert!(
            page.contains(&format!("| `{}` |", f.usage)),
            "{} is not on the reference page",
            f.usage
        );
        let call = format!("{}(", f.name);
        assert!(
            examples
                .iter()
                .any(|(src, _)| src.to_ascii_uppercase().contains(&call)),
            "{} has no example",
            f.name
        );
    }
    for a in aggregates() {
        assert!(
            page.contains(&format!("| `{}` |", a.name)),
            "aggregate {} is not listed",
            a.name
        );
        let brace = format!("{}{{", a.name);
        let hash = format!("{}#", a.name);
        assert!(
            examples
                .iter()
                .any(|(src, _)| src.contains(&brace) || src.contains(&hash)),
            "{} has no example",
            a.name
        );
    }
    for m in modifiers() {
        assert!(
            page.contains(&format!("| `#{}` |", m.name)),
            "modifier #{} is not listed",
            m.name
        );
        assert!(
            examples
                .iter()
                .any(|(src, _)| src.contains(&format!("#{}", m.name))),
            "#{} has no example",
            m.name
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

fn parse_err(src: &str) -> FormulaError {
    match Formula::compile(src) {
        Ok(_) => panic!("{src}: expected an error"),
        Err(e) => e,
    }
}

#[test]
fn formula_precedence_and_associativity() {
    let cases = [
        ("1 + 2 * 3", "(1.0 + (2.0 * 3.0))"),
        ("1 - 2 - 3", "((1.0 - 2.0) - 3.0)"),
        ("8 / 4 / 2", "((8.0 / 4.0) / 2.0)"),
        ("-2 * 3", "((-2.0) * 3.0)"),
        ("a & b + c", "(a & (b + c))"),
        ("a = b & c", "(a = (b & c))"),
        ("NOT a = b", "(NOT (a = b))"),
        ("!a AND b", "((NOT a) AND b)"),
        ("a OR b AND c", "(a OR (b AND c))"),
        ("a || b && c", "(a OR (b AND c))"),
        ("WITH x = 1 : x + 1", "(WITH x = 1.0 : (x + 1.0))"),
        (
            "1 + WITH x = 2 : x * 3",
            "(1.0 + (WITH x = 2.0 : (x * 3.0)))",
        ),
        ("Sum#Children{ Story_Points }", "SUM#children{story_points}"),
        ("`Story Points` + 1", "(`story points` + 1.0)"),
        ("and(a, b)", "AND(a, b)"),
        ("'it\\'s' & \"\\\"q\\\"\"", "(\"it's\" & \"\\\"q\\\"\")"),
        ("true = Empty", "(TRUE = EMPTY)"),
        ("undefined", "EMPTY"),
        ("1e3 + .5", "(1000.0 + 0.5)"),
    ];
    for (src, printed) in cases {
        assert_eq!(parse(src).unwrap().to_string(), printed, "for {src}");
    }
}

#[test]
fn formula_comments_and_lines() {
    assert_eq!(
        eval("// leading\n1 + /* inner\n comment */ 2 // trailing"),
        Value::Number(3.0)
    );
    let e = parse_err("1 +\n  /* never closed");
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(e.message, "Unterminated comment");
}

#[test]
fn formula_syntax_errors_point_at_the_problem() {
    let cases: [(&str, &str, usize, usize); 14] = [
        ("", "Empty formula", 1, 1),
        ("   // only a comment", "Empty formula", 1, 21),
        ("(1 + 2", "Expected ')', found end of formula", 1, 7),
        ("1 +", "Unexpected end of formula", 1, 4),
        ("1 2", "Unexpected number", 1, 3),
        ("f(1,", "Unexpected end of formula", 1, 5),
        ("f(1 2)", "Expected ',' or ')', found number", 1, 5),
        ("x\n  + @", "Unexpected character '@'", 2, 5),
        (
            "SUM#{x}",
            "Expected a modifier name after '#', found '{'",
            1,
            5,
        ),
        (
            "SUM#children x",
            "Expected '{' to start the aggregate's expression, found 'x'",
            1,
            14,
        ),
        ("SUM{x", "Expected '}', found end of formula", 1, 6),
        (
            "WITH = 1 : 2",
            "Expected a name after WITH, found '='",
            1,
            6,
        ),
        (
            "WITH a 1 : 2",
            "Expected '=' after the name in WITH, found number",
            1,
            8,
        ),
        (
            "WITH a = 1 a",
            "Expected ':' before the body of WITH, found 'a'",
            1,
            12,
        ),
    ];
    for (src, message, line, column) in cases {
        let e = parse_err(src);
        assert_eq!(e.kind, ErrorKind::Syntax, "{src}");
        assert_eq!(
            (e.message.as_str(), e.line, e.column),
            (message, line, column),
            "for {src:?}"
        );
    }
    // Columns count characters, not bytes.
    let e = parse_err("\"héllo\" + é");
    assert_eq!((e.line, e.column), (1, 11));
    let e = parse_err("`unclosed");
    assert_eq!(e.message, "Unterminated quoted name");
    let e = parse_err("AND");
    assert_eq!(e.message, "Unexpected 'AND'");
}

#[test]
fn formula_check_errors_point_at_the_problem() {
    let e = parse_err("1 +\n    SUMM{story_points}");
    assert_eq!(
        e.to_string(),
        "Unknown aggregate function 'SUMM' at line 2, column 5 — did you mean 'SUM'?"
    );
    let e = parse_err("IF(x, 1, ROUDN(y))");
    assert_eq!(
        e.to_string(),
        "Unknown function 'ROUDN' at line 1, column 10 — did you mean 'ROUND'?"
    );
    assert_eq!(parse_err("FROBNICATE(1)").hint, None);
    assert_eq!(
        parse_err("UPPER{x}").message,
        "UPPER is not an aggregate function"
    );
    assert_eq!(
        parse_err("SUM#with_duplicates#with_duplicates{1}").message,
        "Modifier '#with_duplicates' is given twice"
    );
    assert_eq!(
        parse_err("ROUND()").to_string(),
        "ROUND expects 1 to 2 arguments, got 0 at line 1, column 1 — usage: ROUND(number, [digits])"
    );
    assert_eq!(
        parse_err("NOW(1)").message,
        "NOW expects 0 arguments, got 1"
    );
    assert_eq!(
        parse_err("ABS(1, 2)").message,
        "ABS expects 1 argument, got 2"
    );
    assert_eq!(
        parse_err("ABS(TODAY())").message,
        "ABS expects a number as argument 1, got a date"
    );
    assert_eq!(
        parse_err("TO_DAYS(5)").message,
        "TO_DAYS expects a duration as argument 1, got a number"
    );
    assert_eq!(
        parse_err("TODAY() * 2").message,
        "Cannot apply '*' to a date and a number"
    );
    assert_eq!(
        parse_err("-\"x\"").message,
        "Cannot apply unary '-' to text"
    );
    assert_eq!(
        parse_err("SUM{TODAY()}").message,
        "SUM needs numbers or durations, got a date"
    );
    // Types flow through WITH, IF and functions.
    assert_eq!(
        parse_err("WITH d = TODAY() : d * 2").message,
        "Cannot apply '*' to a date and a number"
    );
    assert_eq!(
        parse_err("YEAR(IF(x, 1, 2))").message,
        "YEAR expects a date as argument 1, got a number"
    );
    // Unknown at check time: fields might hold anything.
    assert!(Formula::compile("x * 2 + YEAR(y) + TO_DAYS(z)").is_ok());
    assert!(Formula::compile("LEFT(key, 1) + 1").is_ok());
    for e in [parse_err("YEAR(5)"), parse_err("SUMM{x}")] {
        assert_eq!(e.kind, ErrorKind::Check);
    }
}

#[test]
fn formula_depth_and_size_are_bounded() {
    let deep_parens = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let long_sum = vec!["1"; 10_000].join(" + ");
    let minus = format!("{}1", "-".repeat(10_000));
    let nots = format!("{}TRUE", "NOT ".repeat(10_000));
    let calls = format!("{}1{}", "ABS(".repeat(10_000), ")".repeat(10_000));
    let aggs = format!("{}1{}", "SUM{".repeat(10_000), "}".repeat(10_000));
    let withs = "WITH a = 1 : ".repeat(3_000) + "a";
    for src in [deep_parens, long_sum, minus, nots, calls, aggs, withs] {
        let e = parse_err(&src);
        assert_eq!(e.kind, ErrorKind::Limit);
        assert!(
            e.message.starts_with("Formula is nested too deeply"),
            "{}",
            e.message
        );
    }
    let ok = vec!["1"; 60].join(" + ");
    assert_eq!(eval(&ok), Value::Number(60.0));
    // The deepest accepted nesting runs on a thread with half the default stack, even in debug builds.
    let deepest = format!("{}1{}", "ABS(".repeat(63), ")".repeat(63));
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || Formula::compile(&deepest).unwrap().evaluate_all(&sample()))
        .unwrap();
    assert_eq!(handle.join().unwrap()[0], Ok(Value::Number(1.0)));
    let huge = "1+".repeat(MAX_SOURCE_LEN);
    assert_eq!(parse_err(&huge).kind, ErrorKind::Limit);
}

#[test]
fn formula_variables_are_collected_once_in_order() {
    let f =
        Formula::compile("story_points + SUM{Story_Points * w} + `Due Date` - WITH w = 2 : w + x")
            .unwrap();
    assert_eq!(f.variables(), ["story_points", "w", "due date", "x"]);
    assert!(f.has_aggregates());
    assert!(!Formula::compile("1 + 2").unwrap().has_aggregates());
    assert_eq!(
        f.source(),
        "story_points + SUM{Story_Points * w} + `Due Date` - WITH w = 2 : w + x"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

#[test]
fn formula_numbers_print_without_float_noise() {
    assert_eq!(eval("0.1 + 0.2").to_string(), "0.3");
    assert_eq!(eval("1 / 3").to_string(), "0.3333333333");
    assert_eq!(eval("-0 * 1").to_string(), "0");
    assert_eq!(eval("1e15 + 0.5").to_string(), "1000000000000000.5");
    assert_eq!(parse_err("2 ^ 0").message, "Unexpected character '^'");
}

#[test]
fn formula_rounding_uses_the_digits_people_see() {
    for (src, expected) in [
        ("ROUND(2.345, 2)", 2.35),
        ("ROUND(1.005, 2)", 1.01),
        ("ROUND(-2.5)", -3.0),
        ("ROUND(2.5)", 3.0),
        ("ROUND(9.995, 2)", 10.0),
        ("ROUND(999, -1)", 1000.0),
        ("ROUND(49, -2)", 0.0),
        ("ROUND(50, -2)", 100.0),
        ("ROUND(50, -3)", 0.0),
        ("ROUND(0.000123456, 5)", 0.00012),
        ("ROUND(123.456, 20)", 123.456),
        ("TRUNC(2.999, 2)", 2.99),
        ("TRUNC(-1999, -3)", -1000.0),
    ] {
        assert_eq!(eval(src), Value::Number(expected), "{src}");
    }
    assert_eq!(eval("FIXED(1.005, 2)"), Value::Text("1.01".into()));
    assert_eq!(eval("FIXED(-3, 1)"), Value::Text("-3.0".into()));
}

#[test]
fn formula_every_function_accepts_empty_without_failing() {
    for f in functions() {
        let args = vec!["EMPTY"; f.min_args.max(f.max_args.unwrap_or(f.min_args).min(3))];
        let src = format!("{}({})", f.name, args.join(", "));
        let Ok(formula) = Formula::compile(&src) else {
            panic!("{src} does not compile")
        };
        let v = formula
            .evaluate(&sample(), 0)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        let expected_non_empty = matches!(
            f.name,
            "LEN"
                | "CONTAINS"
                | "STARTS_WITH"
                | "ENDS_WITH"
                | "EXACT"
                | "AND"
                | "OR"
                | "NOT"
                | "ISEMPTY"
                | "DEFINED"
                | "NOW"
                | "TODAY"
                | "SIZE"
                | "ISLEAF"
                | "DEPTH"
        );
        assert_eq!(!v.is_empty(), expected_non_empty, "{src} gave {}", v.repr());
    }
}

#[test]
fn formula_text_functions_count_characters() {
    assert_eq!(eval("LEN(\"héllo wörld\")"), Value::Number(11.0));
    assert_eq!(eval("LEFT(\"héllo\", 2)"), Value::Text("hé".into()));
    assert_eq!(eval("RIGHT(\"héllo\", 10)"), Value::Text("héllo".into()));
    assert_eq!(eval("MID(\"héllo\", 2, 2)"), Value::Text("él".into()));
    assert_eq!(eval("MID(\"abc\", 0, 2)"), Value::Text("ab".into()));
    assert_eq!(eval("LEFT(\"abc\", -1)"), Value::Empty);
    assert_eq!(eval("SEARCH(\"LL\", \"héllo\")"), Value::Number(3.0));
    assert_eq!(eval("SEARCH(\"z\", \"abc\")"), Value::Empty);
    assert_eq!(
        eval("REPLACE(\"aaa\", \"\", \"b\")"),
        Value::Text("aaa".into())
    );
    assert_eq!(eval("REPLACE(\"aaa\", \"a\", \"\")"), Value::Empty);
    assert_eq!(eval("UPPER(3)"), Value::Text("3".into()));
    assert_eq!(
        eval("CONCAT(1, TRUE, DATE(2024, 1, 2), HOURS(2))"),
        Value::Text("1TRUE2024-01-022h".into())
    );
    assert_eq!(eval("JOIN(\"x\")"), Value::Text("x".into()));
    assert_eq!(eval("SIZE(3)"), Value::Number(1.0));
    assert_eq!(eval("CONTAINS(labels, \"UX\")"), Value::Bool(true));
    assert_eq!(eval("CONTAINS(labels, \"u\")"), Value::Bool(false));
    assert_eq!(
        err("REPEAT(\"ab\", 60000)").message,
        "REPEAT would build more than 100000 characters"
    );
}

#[test]
fn formula_dates_and_time_zones() {
    // 23:30 UTC is already the next day two hours east.
    let mut f = MemoryForest::new(ts("2024-12-31T23:30:00Z"));
    f.push_row(
        0,
        [("created", Value::DateTime(ts("2024-12-31T23:30:00Z")))],
    );
    let utc = |src: &str| eval_at(src, &f, 0).unwrap();
    assert_eq!(utc("TODAY()"), Value::Date(date(2024, 12, 31)));
    assert_eq!(utc("YEAR(created)"), Value::Number(2024.0));
    let east = f
        .clone()
        .with_time_zone(TimeZone::fixed(Offset::constant(2)));
    let tz = |src: &str| eval_at(src, &east, 0).unwrap();
    assert_eq!(tz("TODAY()"), Value::Date(date(2025, 1, 1)));
    assert_eq!(tz("YEAR(created)"), Value::Number(2025.0));
    assert_eq!(
        tz("DATETIME(DATE(2025, 1, 1))"),
        Value::DateTime(ts("2024-12-31T22:00:00Z"))
    );
    assert_eq!(tz("DATE(2025, 1, 1) = created"), Value::Bool(false));
    assert_eq!(tz("DATE(2025, 1, 1) < created"), Value::Bool(true));
    assert_eq!(
        tz("FORMAT_DATETIME(created, \"%Y-%m-%d %H:%M\")"),
        Value::Text("2025-01-01 01:30".into())
    );
    // Calendar arithmetic.
    assert_eq!(
        utc("DATE_ADD(DATE(2024, 2, 29), 1, \"year\")"),
        Value::Date(date(2025, 2, 28))
    );
    assert_eq!(
        utc("DATE_ADD(DATE(2024, 1, 1), 36, \"hours\")"),
        Value::DateTime(ts("2024-01-02T12:00:00Z"))
    );
    assert_eq!(
        utc("DATE_ADD(created, 1, \"month\")"),
        Value::DateTime(ts("2025-01-31T23:30:00Z"))
    );
    assert_eq!(
        utc("DATE_SUBTRACT(\"2024-03-01\", 1, \"day\")"),
        Value::Date(date(2024, 2, 29))
    );
    assert_eq!(
        utc("DAYS_BETWEEN(\"2024-03-10\", \"2024-03-01\")"),
        Value::Number(-9.0)
    );
    assert_eq!(utc("DATE(2024, 13, 1)"), Value::Empty);
    assert_eq!(utc("DATE(\"not a date\")"), Value::Empty);
    assert_eq!(
        utc("DATE(2024, 1, 1) - DATE(2023, 1, 1)"),
        Value::Duration(365 * 86_400_000)
    );
    assert_eq!(
        utc("TO_DAYS(DATE(2024, 1, 2) - DATETIME(\"2024-01-01T12:00:00Z\"))"),
        Value::Number(0.5)
    );
    assert_eq!(
        utc("DATE(2024, 1, 1) + 1.5"),
        Value::DateTime(ts("2024-01-02T12:00:00Z"))
    );
    assert_eq!(utc("-HOURS(1)").to_string(), "-1h");
    assert_eq!(utc("MINUTES(1) / 60000").to_string(), "1ms");
    assert_eq!(utc("HOURS(1) < MINUTES(61)"), Value::Bool(true));
    assert!(eval_at("FORMAT_DATETIME(created, \"%\")", &f, 0).is_err());
    assert_eq!(
        eval_at("DATE(2024, 1, 1) < 5", &f, 0).unwrap_err().message,
        "Cannot compare a date with a number"
    );
}

#[test]
fn formula_empty_semantics() {
    let v = |s: &str| eval(s);
    assert_eq!(v("resolution"), Value::Empty);
    assert_eq!(v("resolution + 1"), Value::Number(1.0));
    assert_eq!(v("resolution - DAYS(1)"), Value::Duration(-86_400_000));
    assert_eq!(v("resolution - due_date"), Value::Empty);
    assert_eq!(v("due_date - resolution"), Value::Date(date(2024, 6, 30)));
    assert_eq!(v("resolution % 2"), Value::Empty);
    assert_eq!(v("resolution / 2"), Value::Empty);
    assert_eq!(v("-resolution"), Value::Empty);
    assert_eq!(v("resolution & resolution"), Value::Empty);
    assert_eq!(v("resolution = \"\""), Value::Bool(true));
    assert_eq!(v("resolution != 0"), Value::Bool(true));
    assert_eq!(v("resolution > EMPTY"), Value::Bool(false));
    assert_eq!(v("resolution >= EMPTY"), Value::Bool(true));
    assert_eq!(v("NOT resolution"), Value::Bool(true));
    assert_eq!(
        v("CASE(resolution, EMPTY, \"none\", \"some\")"),
        Value::Text("none".into())
    );
    assert_eq!(v("CASE(status, \"x\", 1)"), Value::Empty);
    assert_eq!(v("IF(FALSE, 1)"), Value::Empty);
    assert_eq!(v("0 / 0"), Value::Empty);
    assert_eq!(v("MOD(5, 0)"), Value::Empty);
    assert_eq!(v("5 % 0"), Value::Empty);
    assert_eq!(v("HOURS(1) / 0"), Value::Empty);
    assert_eq!(v("POW(10, 400)"), Value::Empty);
    assert_eq!(v("LN(0)"), Value::Empty);
    assert_eq!(v("MIN(EMPTY, EMPTY)"), Value::Empty);
    assert_eq!(v("TRUE + TRUE"), Value::Number(2.0));
    assert_eq!(v("\"4\" * \"2\""), Value::Number(8.0));
}

#[test]
fn formula_conditions_are_lazy() {
    // The branch not taken would fail; it is never evaluated.
    assert_eq!(eval("IF(TRUE, 1, summary * 2)"), Value::Number(1.0));
    assert_eq!(eval("FALSE AND summary * 2"), Value::Bool(false));
    assert_eq!(eval("TRUE OR summary * 2"), Value::Bool(true));
    assert_eq!(
        eval("CASE(1, 1, \"one\", summary * 2)"),
        Value::Text("one".into())
    );
    assert_eq!(err("IF(FALSE, 1, summary * 2)").kind, ErrorKind::Runtime);
}

#[test]
fn formula_runtime_errors_have_positions() {
    let e = err("1 +\n  summary * 2");
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::Runtime, 2, 3));
    assert_eq!(e.message, "Cannot apply '*' to text and a number");
    let e = err("SUM{summary}");
    assert_eq!(e.message, "Expected a number, got text \"Checkout revamp\"");
    let e = err("SUM{IF(ISLEAF(), time_spent, story_points)}");
    assert_eq!(e.message, "Cannot add numbers and durations together");
    let e = Formula::compile("1")
        .unwrap()
        .evaluate(&sample(), 99)
        .unwrap_err();
    assert_eq!(e.message, "Row 99 does not exist (the forest has 6 rows)");
}

#[test]
fn formula_step_limit_stops_runaway_nesting() {
    let mut f = MemoryForest::new(ts("2024-01-01T00:00:00Z"));
    for depth in 0..400 {
        f.push_row(depth, []);
    }
    let e = eval_at("SUM{SUM{SUM{1}}}", &f, 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    // Bottom-up, the same formula is cheap.
    let all = Formula::compile("SUM{SUM{SUM{1}}}")
        .unwrap()
        .evaluate_all(&f);
    assert_eq!(all[399], Ok(Value::Number(1.0)));
    assert_eq!(all[398], Ok(Value::Number(4.0)));
}

// ---------------------------------------------------------------------------------------------------------
// Aggregates

#[test]
fn formula_aggregates_on_every_row() {
    let forest = sample();
    let check = |src: &str, expected: [Value; 6]| {
        let f = Formula::compile(src).unwrap();
        let per_row: Vec<Value> = (0..6).map(|r| f.evaluate(&forest, r).unwrap()).collect();
        assert_eq!(per_row, expected, "{src} per row");
        let all: Vec<Value> = f
            .evaluate_all(&forest)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all, expected, "{src} bottom-up");
    };
    let n = Value::Number;
    check(
        "SUM{story_points}",
        [n(21.0), n(10.0), n(2.0), n(3.0), n(10.0), n(2.0)],
    );
    check(
        "SUM#descendants{story_points}",
        [
            n(18.0),
            n(5.0),
            Value::Empty,
            Value::Empty,
            n(2.0),
            Value::Empty,
        ],
    );
    check(
        "SUM#children{story_points}",
        [
            n(13.0),
            n(5.0),
            Value::Empty,
            Value::Empty,
            n(2.0),
            Value::Empty,
        ],
    );
    check(
        "SUM#leaves{story_points}",
        [n(5.0), n(5.0), n(2.0), n(3.0), n(2.0), n(2.0)],
    );
    check(
        "SUM#leaves#with_duplicates{story_points}",
        [n(7.0), n(5.0), n(2.0), n(3.0), n(2.0), n(2.0)],
    );
    check("COUNT{1}", [n(5.0), n(3.0), n(1.0), n(1.0), n(2.0), n(1.0)]);
    check(
        "COUNT#with_duplicates{1}",
        [n(6.0), n(3.0), n(1.0), n(1.0), n(2.0), n(1.0)],
    );
    check(
        "MAX#descendants{story_points}",
        [
            n(8.0),
            n(3.0),
            Value::Empty,
            Value::Empty,
            n(2.0),
            Value::Empty,
        ],
    );
    check(
        "AVG#children{story_points}",
        [
            n(6.5),
            n(2.5),
            Value::Empty,
            Value::Empty,
            n(2.0),
            Value::Empty,
        ],
    );
    check(
        "DEPTH() + SUM#children{1}",
        [n(2.0), n(3.0), n(2.0), n(2.0), n(2.0), n(2.0)],
    );
}

#[test]
fn formula_non_issue_rows_always_count() {
    let mut f = MemoryForest::new(ts("2024-01-01T00:00:00Z"));
    f.set_issue(7, [("points", Value::Number(1.0))]);
    f.push_row(0, [("name", Value::Text("folder".into()))]);
    f.push_row(1, [("points", Value::Number(10.0))]);
    f.push_row(1, [("points", Value::Number(10.0))]);
    f.push_issue(1, 7);
    f.push_issue(1, 7);
    let formula = Formula::compile("SUM{points}").unwrap();
    assert_eq!(formula.evaluate(&f, 0), Ok(Value::Number(21.0)));
    assert_eq!(formula.evaluate_all(&f)[0], Ok(Value::Number(21.0)));
    let dup = Formula::compile("SUM#with_duplicates{points}").unwrap();
    assert_eq!(dup.evaluate(&f, 0), Ok(Value::Number(22.0)));
}

#[test]
fn formula_with_locals_inside_aggregates() {
    // The body reads a local bound outside: evaluated per row, with the outer row's value.
    let src = "WITH mine = story_points : COUNT#descendants{story_points > mine}";
    let forest = sample();
    let f = Formula::compile(src).unwrap();
    let per_row: Vec<_> = (0..6).map(|r| f.evaluate(&forest, r)).collect();
    assert_eq!(per_row, f.evaluate_all(&forest));
    assert_eq!(per_row[0], Ok(Value::Number(2.0)));
    assert_eq!(per_row[1], Ok(Value::Number(0.0)));
    // A local bound inside the body is fine for the bottom-up path.
    let inner = Formula::compile("SUM{WITH p = story_points : p * p}").unwrap();
    assert_eq!(
        inner.evaluate_all(&forest)[0],
        Ok(Value::Number(9.0 + 25.0 + 4.0 + 9.0 + 64.0))
    );
}

#[test]
fn formula_nested_aggregates_with_duplicates_use_the_first_placement() {
    let forest = sample();
    let f = Formula::compile("SUM{SUM#children{story_points}}").unwrap();
    let per_row: Vec<_> = (0..6).map(|r| f.evaluate(&forest, r)).collect();
    assert_eq!(per_row, f.evaluate_all(&forest));
    // 100 → 13, 101 → 5, 102 → 2; 103 and 104 have no children.
    assert_eq!(per_row[0], Ok(Value::Number(20.0)));
}

#[test]
fn formula_distinct_flattens_lists_and_keeps_row_order() {
    assert_eq!(eval("DISTINCT{labels}").repr(), "[\"payments\", \"ux\"]");
    assert_eq!(eval("SIZE(DISTINCT{status})"), Value::Number(3.0));
    assert_eq!(
        eval("JOIN(DISTINCT#children{status})"),
        Value::Text("Done, To Do".into())
    );
    assert_eq!(eval("DISTINCT#children{resolution}"), Value::Empty);
}

// ---------------------------------------------------------------------------------------------------------
// Properties

/// Integer arithmetic expressions with a reference value computed in `i128`, so no rounding is involved.
fn arithmetic() -> impl Strategy<Value = (String, i128)> {
    let leaf = (-50i128..50).prop_map(|n| {
        if n < 0 {
            (format!("({n})"), n)
        } else {
            (n.to_string(), n)
        }
    });
    leaf.prop_recursive(6, 48, 2, |inner| {
        (
            inner.clone(),
            prop::sample::select(vec!['+', '-', '*']),
            inner,
        )
            .prop_map(|((a, x), op, (b, y))| {
                let v = match op {
                    '+' => x + y,
                    '-' => x - y,
                    _ => x * y,
                };
                (format!("({a} {op} {b})"), v)
            })
    })
}

fn ast() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0u32..1000).prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "story_points",
            "`Story Points`",
            "\"t\\\"x\"",
            "'a'",
            "TRUE",
            "EMPTY",
            "x1"
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%", "&", "AND", "OR", "=", "<"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            inner.clone().prop_map(|a| format!("(NOT {a})")),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|args| format!("MAX({})", args.join(", "))),
            (
                prop::sample::select(vec!["SUM", "COUNT", "MIN"]),
                prop::sample::select(vec!["", "#children", "#leaves#with_duplicates"]),
                inner.clone()
            )
                .prop_map(|(f, m, b)| format!("{f}{m}{{{b}}}")),
            (inner.clone(), inner).prop_map(|(v, b)| format!("WITH w = {v} : {b} + w")),
        ]
    })
}

/// A forest of random shape, with issues placed several times and some rows that are not issues.
fn forest() -> impl Strategy<Value = MemoryForest> {
    prop::collection::vec((0u32..4, prop::option::of(0u64..8), -20i32..20), 1..40).prop_map(
        |rows| {
            let mut f = MemoryForest::new("2024-01-01T00:00:00Z".parse().unwrap());
            for id in 0..8u64 {
                #[allow(clippy::cast_precision_loss)]
                let points = (id * 3 % 7) as f64;
                let status = if id % 2 == 0 { "Done" } else { "Open" };
                f.set_issue(
                    id,
                    [
                        ("points", Value::Number(points)),
                        ("status", Value::Text(status.into())),
                    ],
                );
            }
            let mut depth = 0u32;
            for (i, (step, issue, points)) in rows.into_iter().enumerate() {
                // Keep depths valid: the next row is at most one level deeper.
                depth = if i == 0 { 0 } else { (depth + 1).min(step) };
                match issue {
                    Some(id) => f.push_issue(depth, id),
                    None => f.push_row(depth, [("points", Value::Number(f64::from(points)))]),
                };
            }
            f
        },
    )
}

proptest! {
    #[test]
    fn formula_arithmetic_matches_reference((src, expected) in arithmetic()) {
        let v = eval_at(&src, &sample(), 0).unwrap();
        #[allow(clippy::cast_precision_loss)]
        let expected = expected as f64;
        prop_assert_eq!(v, Value::number(expected));
    }

    #[test]
    fn formula_printing_round_trips(src in ast()) {
        let first = parse(&src).unwrap();
        let printed = first.to_string();
        let second = parse(&printed).unwrap();
        prop_assert_eq!(second.to_string(), printed.clone());
        // The checker and the evaluator accept the same program either way, with the same outcome.
        let a = Formula::compile(&src).map(|f| f.evaluate(&sample(), 0));
        let b = Formula::compile(&printed).map(|f| f.evaluate(&sample(), 0));
        prop_assert_eq!(a.map(|r| r.map_err(|e| e.message)).map_err(|e| e.message), b.map(|r| r.map_err(|e| e.message)).map_err(|e| e.message));
    }

    #[test]
    fn formula_bottom_up_equals_row_by_row(forest in forest(), which in 0usize..14) {
        let src = [
            "SUM{points}",
            "SUM#with_duplicates{points}",
            "SUM#descendants{points}",
            "SUM#descendants#with_duplicates{points}",
            "SUM#children{points}",
            "SUM#leaves{points}",
            "COUNT#leaves#with_duplicates{status = \"Done\"}",
            "AVG{points}",
            "MIN#descendants{points} & \"/\" & MAX#leaves{points}",
            "JOIN(DISTINCT{points}) & \"|\" & JOIN(DISTINCT#children{status})",
            "SUM{SUM#children{points}}",
            "SUM#with_duplicates{COUNT#leaves{1}}",
            "WITH p = points : COUNT#descendants{points > p}",
            "IF(ISLEAF(), points, SUM#children{points} + DEPTH())",
        ][which];
        let f = Formula::compile(src).unwrap();
        let per_row: Vec<_> = (0..forest.row_count()).map(|r| f.evaluate(&forest, r)).collect();
        prop_assert_eq!(per_row, f.evaluate_all(&forest), "{}", src);
    }

    #[test]
    fn formula_never_panics_on_token_soup(tokens in prop::collection::vec(prop::sample::select(vec![
        "1", "2.5", "\"a\"", "x", "story_points", "labels", "(", ")", "{", "}", "#", "#children", ",", ":", "+", "-", "*",
        "/", "%", "&", "=", "<", ">=", "!", "AND", "OR", "NOT", "WITH", "w", "SUM", "MIN", "IF", "CASE", "DATE",
        "TODAY()", "DAYS", "LEFT", "EMPTY", "TRUE", "`q`", "//c\n", "/*c*/",
    ]), 0..25)) {
        let src = tokens.join(" ");
        if let Ok(f) = Formula::compile(&src) {
            let forest = sample();
            let _ = f.evaluate_all(&forest);
            for row in 0..forest.row_count() {
                let _ = f.evaluate(&forest, row);
            }
        }
    }

    #[test]
    fn formula_never_panics_on_arbitrary_text(src in "\\PC{0,60}") {
        if let Ok(f) = Formula::compile(&src) {
            let _ = f.evaluate_all(&sample());
        }
    }
}
