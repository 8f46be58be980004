//! Hostile inputs: deep nesting, huge queries, garbage. Nothing may panic or exhaust the stack. No timing
//! assertions here (benchmarks measure time); these only have to finish.

use jql::{MAX_DEPTH, ParseErrorKind, parse};

fn too_deep(src: &str) -> bool {
    matches!(parse(src).map_err(|e| e.kind), Err(ParseErrorKind::TooDeep))
}

#[test]
fn nesting_up_to_the_limit_parses_and_beyond_it_fails_clearly() {
    let ok = format!("{}a = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&ok).is_ok());
    let deep = format!(
        "{}a = 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(too_deep(&deep));
    let message = parse(&deep).unwrap_err().to_string();
    assert!(message.contains("more than 100 levels deep"), "{message}");
}

#[test]
fn huge_nesting_of_every_kind_fails_without_overflowing_the_stack() {
    assert!(too_deep(&"(".repeat(100_000)));
    assert!(too_deep(&format!("{}a = 1", "NOT ".repeat(50_000))));
    assert!(too_deep(&format!("{}a = 1", "!".repeat(100_000))));
    assert!(too_deep(&format!("a in {}1", "(".repeat(100_000))));
    assert!(too_deep(&format!(
        "a in {}1{}",
        "(".repeat(50_000),
        ")".repeat(50_000)
    )));
}

#[test]
fn long_flat_queries_parse_and_print() {
    let long = vec!["project = ABC"; 10_000].join(" OR ");
    let q = parse(&long).unwrap();
    assert!(
        q.to_string() == long,
        "a long OR chain prints as it was written"
    );
    let list = format!("key IN ({})", vec!["ABC-1"; 20_000].join(", "));
    assert!(
        parse(&list).unwrap().to_string() == list,
        "a long list prints as it was written"
    );
    let word = "x".repeat(100_000);
    assert!(parse(&format!("a = {word}")).is_ok());
    assert!(parse(&format!("a = \"{word}")).is_err());
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "(", ")", "\"", "'", "\\", "\\u", "[", "]", "cf", "=", "!", "~", "<", ">", "&", "|", ",",
        "%", "order", "by", "not", "in", "is", "was", "changed", "empty", "a", "1", "-", " ", "\n",
        "\u{0}", "😀", "\u{ffff}",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut src = String::new();
        for _ in 0..(seed % 24) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            src.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok(q) = parse(&src) {
            let printed = q.to_string();
            let again =
                parse(&printed).unwrap_or_else(|e| panic!("{src:?} printed as {printed:?}: {e}"));
            assert!(q.same_as(&again), "{src:?} printed as {printed:?}");
        } else if let Err(e) = parse(&src) {
            assert!(e.offset <= src.len());
            let _ = e.to_string();
        }
    }
}

#[test]
fn many_bad_characters_do_not_slow_down_to_quadratic() {
    // A query made only of errors: the first one is reported, the lexer still reads the rest once.
    let src = "%".repeat(100_000);
    assert!(matches!(
        parse(&src).unwrap_err().kind,
        ParseErrorKind::ReservedCharacter('%')
    ));
    let src = "\\q".repeat(50_000);
    assert!(matches!(
        parse(&src).unwrap_err().kind,
        ParseErrorKind::IllegalEscape(_)
    ));
    let src = "\"\\q".repeat(30_000);
    assert!(parse(&src).is_err());
}
