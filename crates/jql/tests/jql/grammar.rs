//! One test per grammar rule, each with accepted and rejected inputs.

use jql::ast::{
    Clause, FieldName, LiteralKind, Operand, Operator, PredicateKind, SortDirection, Span,
};
use jql::{Expected, ParseErrorKind, parse};

use crate::{canonical, error};

fn rejects(src: &str) {
    assert!(parse(src).is_err(), "{src:?} should not parse");
}

fn expected_at(src: &str) -> Option<Expected> {
    parse(src).err().and_then(|e| e.expected())
}

#[test]
fn jql_query_where_and_order_by_are_both_optional() {
    assert_eq!(canonical(""), "");
    assert_eq!(canonical("  \t\r\n "), "");
    assert_eq!(canonical("a = b"), "a = b");
    assert_eq!(canonical("order by key"), "ORDER BY key");
    assert_eq!(canonical("a = b order by key"), "a = b ORDER BY key");
    let q = parse("a = b ORDER BY c").unwrap();
    assert!(q.clause.is_some() && q.order_by.is_some());
    assert!(parse("").unwrap().clause.is_none());
    rejects("order by");
    rejects("a = b c = d");
    rejects("a = b)");
}

#[test]
fn or_binds_looser_than_and_which_binds_looser_than_not() {
    let q = parse("a = 1 OR b = 2 AND NOT c = 3").unwrap();
    let Some(Clause::Or(or)) = q.clause else {
        panic!("expected OR at the top")
    };
    assert_eq!(or.clauses.len(), 2);
    let Clause::And(and) = &or.clauses[1] else {
        panic!("expected AND on the right")
    };
    assert!(matches!(and.clauses[1], Clause::Not(_)));
    assert_eq!(
        canonical("a = 1 or b = 2 or c = 3"),
        "a = 1 OR b = 2 OR c = 3"
    );
    assert_eq!(
        canonical("(a = 1 or b = 2) and c = 3"),
        "(a = 1 OR b = 2) AND c = 3"
    );
    assert_eq!(canonical("not (a = 1 and b = 2)"), "NOT (a = 1 AND b = 2)");
    assert_eq!(
        canonical("a = 1 or (b = 2 or c = 3)"),
        "a = 1 OR (b = 2 OR c = 3)"
    );
    assert_eq!(canonical("((a = 1))"), "a = 1");
    rejects("a = 1 or");
    rejects("and a = 1");
    rejects("a = 1 and and b = 2");
}

#[test]
fn operator_aliases() {
    assert_eq!(
        canonical("a = 1 & b = 2 && c = 3"),
        "a = 1 AND b = 2 AND c = 3"
    );
    assert_eq!(
        canonical("a = 1 | b = 2 || c = 3"),
        "a = 1 OR b = 2 OR c = 3"
    );
    assert_eq!(canonical("!a = 1"), "NOT a = 1");
    assert_eq!(canonical("! ! a = 1"), "NOT NOT a = 1");
    assert_eq!(canonical("a=1&b=2|c=3"), "a = 1 AND b = 2 OR c = 3");
    rejects("a = 1 &&& b = 2");
    rejects("a = 1 !");
}

#[test]
fn not_clause() {
    assert_eq!(canonical("NOT a = 1"), "NOT a = 1");
    assert_eq!(canonical("not not a = 1"), "NOT NOT a = 1");
    assert_eq!(canonical("NOT (a = 1)"), "NOT a = 1");
    rejects("NOT");
    rejects("a = 1 NOT b = 2");
}

#[test]
fn sub_clause() {
    assert_eq!(canonical("(a = 1)"), "a = 1");
    assert_eq!(canonical("( ( a = 1 ) OR b = 2 )"), "a = 1 OR b = 2");
    assert_eq!(expected_at("(a = 1"), Some(Expected::CloseParen));
    assert_eq!(expected_at("(a = 1 b"), Some(Expected::CloseParen));
    rejects("()");
    rejects("(a = 1))");
}

#[test]
fn equals_and_like_clauses_take_empty_value_or_function() {
    for op in ["=", "!=", "~", "!~"] {
        assert_eq!(canonical(&format!("a {op} b")), format!("a {op} b"));
        assert_eq!(canonical(&format!("a {op} EMPTY")), format!("a {op} EMPTY"));
        assert_eq!(canonical(&format!("a {op} null")), format!("a {op} EMPTY"));
        assert_eq!(canonical(&format!("a {op} 12")), format!("a {op} 12"));
        assert_eq!(canonical(&format!("a {op} f(x)")), format!("a {op} f(x)"));
        assert_eq!(
            expected_at(&format!("a {op} (b)")),
            Some(Expected::ValueOrFunction)
        );
        assert_eq!(
            expected_at(&format!("a {op}")),
            Some(Expected::ValueOrFunction)
        );
    }
}

#[test]
fn comparison_clauses_take_value_or_function() {
    for op in ["<", ">", "<=", ">="] {
        assert_eq!(canonical(&format!("a {op} -5d")), format!("a {op} -5d"));
        assert_eq!(canonical(&format!("a{op}now()")), format!("a {op} now()"));
        assert_eq!(
            canonical(&format!("a {op} \"2024-01-01 10:00\"")),
            format!("a {op} \"2024-01-01 10:00\"")
        );
        assert!(matches!(
            parse(&format!("a {op} EMPTY")).unwrap_err().kind,
            ParseErrorKind::ReservedWord(_)
        ));
        assert_eq!(
            expected_at(&format!("a {op} (1, 2)")),
            Some(Expected::ValueOrFunction)
        );
    }
    rejects("a =< 1");
    rejects("a => 1");
}

#[test]
fn in_clauses_take_list_or_function() {
    assert_eq!(canonical("a in (1, b, \"c d\")"), "a IN (1, b, \"c d\")");
    assert_eq!(canonical("a not in (x)"), "a NOT IN (x)");
    assert_eq!(
        canonical("a in membersOf(\"jira-users\")"),
        "a IN membersOf(jira-users)"
    );
    assert_eq!(canonical("a NOT IN f()"), "a NOT IN f()");
    assert_eq!(expected_at("a in b"), Some(Expected::ListOrFunction));
    assert_eq!(expected_at("a in ()"), Some(Expected::Operand));
    assert_eq!(expected_at("a not b"), Some(Expected::In));
    assert_eq!(expected_at("a in (1,"), Some(Expected::Operand));
    assert_eq!(expected_at("a in (1 2)"), Some(Expected::CommaOrCloseParen));
}

#[test]
fn is_clauses_take_only_empty() {
    assert_eq!(canonical("a is empty"), "a IS EMPTY");
    assert_eq!(canonical("a IS NOT NULL"), "a IS NOT EMPTY");
    assert_eq!(expected_at("a is b"), Some(Expected::Empty));
    assert_eq!(expected_at("a is not"), Some(Expected::Empty));
    assert_eq!(expected_at("a is not 1"), Some(Expected::Empty));
    rejects("a is (empty)");
}

#[test]
fn was_clauses_with_predicates() {
    assert_eq!(canonical("status was Open"), "status WAS Open");
    assert_eq!(canonical("status was not Open"), "status WAS NOT Open");
    assert_eq!(canonical("status was empty"), "status WAS EMPTY");
    assert_eq!(
        canonical("status was in (Open, Closed)"),
        "status WAS IN (Open, Closed)"
    );
    assert_eq!(
        canonical("status was not in (Open)"),
        "status WAS NOT IN (Open)"
    );
    assert_eq!(
        canonical(
            "status was Open after \"2024-01-01\" before -1d on 2024-02-01 by currentUser() during (a, b)"
        ),
        "status WAS Open AFTER 2024-01-01 BEFORE -1d ON 2024-02-01 BY currentUser() DURING (a, b)"
    );
    assert_eq!(
        canonical("assignee was in f() by x"),
        "assignee WAS IN f() BY x"
    );
    let q = parse("s was x by u").unwrap();
    let Some(Clause::Terminal(t)) = q.clause else {
        panic!("terminal expected")
    };
    assert_eq!(t.operator, Operator::Was);
    assert_eq!(t.predicates[0].kind, PredicateKind::By);
    // FROM and TO belong to CHANGED only.
    assert_eq!(
        expected_at("status was a from b"),
        Some(Expected::LogicalOperator)
    );
    assert_eq!(
        expected_at("status was in b"),
        Some(Expected::ListOrFunction)
    );
    assert_eq!(expected_at("status was a after"), Some(Expected::Operand));
    rejects("status was");
}

#[test]
fn changed_clauses_with_predicates() {
    assert_eq!(canonical("status changed"), "status CHANGED");
    assert_eq!(
        canonical(
            "status changed from Open to Done by u after -2w before now() on x during (a, b)"
        ),
        "status CHANGED FROM Open TO Done BY u AFTER -2w BEFORE now() ON x DURING (a, b)"
    );
    assert_eq!(
        canonical("status changed to (a, b)"),
        "status CHANGED TO (a, b)"
    );
    assert_eq!(
        canonical("status changed and a = b"),
        "status CHANGED AND a = b"
    );
    assert_eq!(expected_at("status changed from"), Some(Expected::Operand));
    rejects("status changed x");
}

#[test]
fn fields_strings_numbers_and_custom_fields() {
    assert_eq!(canonical("\"Story Points\" > 3"), "\"Story Points\" > 3");
    assert_eq!(canonical("'Epic Link' = X-1"), "\"Epic Link\" = X-1");
    assert_eq!(canonical("cf[10016] = 5"), "cf[10016] = 5");
    assert_eq!(canonical("CF[10016] = 5"), "cf[10016] = 5");
    assert_eq!(canonical("123 = 5"), "123 = 5");
    assert_eq!(canonical("-1 = 5"), "-1 = 5");
    let q = parse("cf[10016] = 5 AND 12 = x").unwrap();
    let Some(Clause::And(and)) = q.clause else {
        panic!("AND expected")
    };
    let Clause::Terminal(t) = &and.clauses[0] else {
        panic!("terminal expected")
    };
    assert_eq!(t.field.name, FieldName::Custom("10016".into()));
    assert_eq!(t.field.name.custom_id(), Some(10016));
    let Clause::Terminal(t) = &and.clauses[1] else {
        panic!("terminal expected")
    };
    assert_eq!(t.field.name, FieldName::Number("12".into()));
    assert_eq!(expected_at("cf[abc] = 1"), Some(Expected::CustomFieldId));
    assert_eq!(expected_at("cf[-1] = 1"), Some(Expected::CustomFieldId));
    assert_eq!(expected_at("cf[1 = 1"), Some(Expected::CloseBracket));
    assert_eq!(expected_at("cf = 1"), Some(Expected::OpenBracket));
    assert_eq!(expected_at("12[x] = 1"), Some(Expected::Operator));
    assert_eq!(expected_at("= 1"), Some(Expected::Field));
}

#[test]
fn field_properties() {
    assert_eq!(
        canonical("issue.property[x].y = 1"),
        "issue.property[x].y = 1"
    );
    assert_eq!(
        canonical("development[commits].all > 0"),
        "development[commits].all > 0"
    );
    assert_eq!(canonical("a[\"b c\"] = 1"), "a[\"b c\"] = 1");
    assert_eq!(canonical("a[1][2].x = 1"), "a[1][2].x = 1");
    assert_eq!(canonical("cf[1][x].y = 1"), "cf[1][x].y = 1");
    assert_eq!(canonical("a[x] .y \"z w\" = 1"), "a[x].y \"z w\" = 1");
    let q = parse("issue.property[x].y = 1").unwrap();
    let Some(Clause::Terminal(t)) = q.clause else {
        panic!("terminal expected")
    };
    assert_eq!(t.field.name, FieldName::Name("issue.property".into()));
    assert_eq!(t.field.properties[0].key.text, "x");
    assert_eq!(t.field.properties[0].path[0].text, ".y");
    assert_eq!(expected_at("a[] = 1"), Some(Expected::Argument));
    assert_eq!(expected_at("a[x = 1"), Some(Expected::CloseBracket));
    assert_eq!(expected_at("a[(] = 1"), Some(Expected::Argument));
}

#[test]
fn functions_with_arguments() {
    assert_eq!(canonical("a = f()"), "a = f()");
    assert_eq!(
        canonical("a = f(1, -2, x, \"y z\", 'w')"),
        "a = f(1, -2, x, \"y z\", w)"
    );
    assert_eq!(canonical("a = \"my fn\"(x)"), "a = \"my fn\"(x)");
    assert_eq!(canonical("a = 12(x)"), "a = 12(x)");
    assert_eq!(canonical("a = f (x)"), "a = f(x)");
    assert_eq!(expected_at("a = f(x"), Some(Expected::CommaOrCloseParen));
    assert_eq!(expected_at("a = f(x,)"), Some(Expected::Argument));
    assert_eq!(expected_at("a = f((x))"), Some(Expected::Argument));
    assert_eq!(expected_at("a = f(,"), Some(Expected::Argument));
}

#[test]
fn lists() {
    assert_eq!(canonical("a in (1)"), "a IN (1)");
    assert_eq!(
        canonical("a in (1,(2,3),f(),EMPTY)"),
        "a IN (1, (2, 3), f(), EMPTY)"
    );
    let q = parse("a in (x, (y))").unwrap();
    let Some(Clause::Terminal(t)) = q.clause else {
        panic!("terminal expected")
    };
    let Some(Operand::List(list)) = t.operand else {
        panic!("list expected")
    };
    assert!(matches!(list.items[1], Operand::List(_)));
    rejects("a in (1,,2)");
    rejects("a in (1");
    rejects("a in 1, 2");
}

#[test]
fn numbers_are_not_strings() {
    let q = parse("a = 12 and b = \"12\" and c = -3 and d = 12x and e = -3d and f = 007").unwrap();
    let Some(Clause::And(and)) = q.clause else {
        panic!("AND expected")
    };
    let kinds: Vec<_> = and
        .clauses
        .iter()
        .map(|c| match c {
            Clause::Terminal(t) => match &t.operand {
                Some(Operand::Literal(l)) => (l.kind, l.text.clone()),
                _ => panic!("literal expected"),
            },
            _ => panic!("terminal expected"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (LiteralKind::Number, "12".into()),
            (LiteralKind::String, "12".into()),
            (LiteralKind::Number, "-3".into()),
            (LiteralKind::String, "12x".into()),
            (LiteralKind::String, "-3d".into()),
            (LiteralKind::Number, "007".into()),
        ]
    );
    assert_eq!(canonical("b = \"12\""), "b = \"12\"");
}

#[test]
fn quoted_strings_and_escapes() {
    assert_eq!(canonical(r#"a ~ "x \"y\" \\ z""#), r#"a ~ "x \"y\" \\ z""#);
    assert_eq!(canonical(r"a ~ 'it\'s'"), r#"a ~ "it's""#);
    assert_eq!(canonical(r#"a ~ 'say "hi"'"#), r#"a ~ "say \"hi\"""#);
    assert_eq!(canonical(r#"a = "\u0041\t\n\r""#), r#"a = "A\t\n\r""#);
    assert_eq!(canonical(r"a = b\ c"), r#"a = "b c""#);
    assert_eq!(canonical(r#"a = """#), r#"a = """#);
    assert_eq!(canonical("a = \"multi\nline\""), "a = \"multi\\nline\"");
    assert_eq!(canonical(r#"a = "50\u0025""#), r#"a = "50%""#);
    assert_eq!(canonical("a = \"ü ✓ 😀\""), "a = \"ü ✓ 😀\"");
    assert_eq!(canonical("a = ü✓"), "a = ü✓");
    rejects("a = \"unclosed");
    rejects("a = 'unclosed");
    rejects(r#"a = "bad \q escape""#);
    rejects(r#"a = "short \u12""#);
    rejects("a = \"tab\tinside\"");
    rejects("a = \"bell\u{7}\"");
}

#[test]
fn keywords_are_case_insensitive() {
    assert_eq!(
        canonical("a In (1) aNd b iS nOt EmPtY oR c WaS NoT iN (x) OrDeR bY d DeSc"),
        "a IN (1) AND b IS NOT EMPTY OR c WAS NOT IN (x) ORDER BY d DESC"
    );
    assert_eq!(canonical("s ChAnGeD fRoM a To b"), "s CHANGED FROM a TO b");
}

#[test]
fn reserved_words_must_be_quoted() {
    for word in [
        "select", "SELECT", "order", "and", "in", "cf", "asc", "by", "changed", "user", "true",
        "isnull",
    ] {
        let message = error(&format!("summary ~ {word}"));
        assert!(
            message.contains("is a reserved JQL word"),
            "{word}: {message}"
        );
        assert!(message.contains(&format!("'{word}'")), "{word}: {message}");
        assert_eq!(
            canonical(&format!("summary ~ \"{word}\"")),
            format!("summary ~ \"{word}\"")
        );
    }
    let message = error("select = 1");
    assert!(
        message.contains("'select' is a reserved JQL word"),
        "{message}"
    );
    assert_eq!(canonical("\"select\" = 1"), "\"select\" = 1");
    // Longer words that merely start with a reserved word are plain words.
    assert_eq!(
        canonical("summary ~ selected and x = order1"),
        "summary ~ selected AND x = order1"
    );
    assert_eq!(
        canonical("a in (\"in\", \"not\")"),
        "a IN (\"in\", \"not\")"
    );
    // EMPTY and NULL are operands of their own, so `~ empty` is the EMPTY operand, not a word.
    assert_eq!(canonical("summary ~ null"), "summary ~ EMPTY");
    assert_eq!(canonical("summary ~ \"null\""), "summary ~ \"null\"");
}

#[test]
fn reserved_characters_must_be_quoted_or_escaped() {
    for c in ['{', '}', '*', '/', '%', '+', '^', '$', '#', '@', '?', ';'] {
        let message = error(&format!("a = x{c}"));
        assert!(
            message.contains(&format!("The character '{c}' is a reserved JQL character")),
            "{message}"
        );
        assert_eq!(canonical(&format!("a = \"x{c}\"")), format!("a = \"x{c}\""));
    }
}

#[test]
fn order_by_clauses() {
    assert_eq!(canonical("order by a"), "ORDER BY a");
    assert_eq!(
        canonical("ORDER BY a asc, b DESC, cf[1]"),
        "ORDER BY a ASC, b DESC, cf[1]"
    );
    assert_eq!(
        canonical("order by \"Story Points\" desc"),
        "ORDER BY \"Story Points\" DESC"
    );
    let q = parse("order by a desc, b").unwrap();
    let order = q.order_by.unwrap();
    assert_eq!(order.sorts[0].direction, Some(SortDirection::Desc));
    assert_eq!(order.sorts[1].direction, None);
    assert_eq!(expected_at("order a"), Some(Expected::By));
    assert_eq!(expected_at("order by a,"), Some(Expected::Field));
    assert_eq!(expected_at("order by a b"), Some(Expected::SortDirection));
    assert_eq!(expected_at("order by a asc b"), Some(Expected::Comma));
    assert_eq!(expected_at("order by a asc desc"), Some(Expected::Comma));
    rejects("order by a and b = 1");
    rejects("order by a = 1");
}

#[test]
fn every_node_carries_its_span() {
    let src = "project = ABC AND (status in (Open, \"In Progress\") OR NOT assignee is EMPTY) ORDER BY rank DESC";
    let q = parse(src).unwrap();
    assert_eq!(q.span, Span::new(0, src.len()));
    let Some(Clause::And(and)) = &q.clause else {
        panic!("AND expected")
    };
    let slice = |s: Span| &src[s.start..s.end];
    assert_eq!(
        slice(and.span),
        "project = ABC AND (status in (Open, \"In Progress\") OR NOT assignee is EMPTY)"
    );
    assert_eq!(slice(and.clauses[0].span()), "project = ABC");
    assert_eq!(
        slice(and.clauses[1].span()),
        "(status in (Open, \"In Progress\") OR NOT assignee is EMPTY)"
    );
    let Clause::Or(or) = &and.clauses[1] else {
        panic!("OR expected")
    };
    let Clause::Terminal(t) = &or.clauses[0] else {
        panic!("terminal expected")
    };
    assert_eq!(slice(t.field.span), "status");
    let Some(Operand::List(list)) = &t.operand else {
        panic!("list expected")
    };
    assert_eq!(slice(list.span), "(Open, \"In Progress\")");
    assert_eq!(slice(list.items[1].span()), "\"In Progress\"");
    assert_eq!(slice(or.clauses[1].span()), "NOT assignee is EMPTY");
    let order = q.order_by.as_ref().unwrap();
    assert_eq!(slice(order.span), "ORDER BY rank DESC");
    assert_eq!(slice(order.sorts[0].span), "rank DESC");
    let q = parse("s changed from a by f(x, y)").unwrap();
    let Some(Clause::Terminal(t)) = &q.clause else {
        panic!("terminal expected")
    };
    assert_eq!(t.span, Span::new(0, 27));
    assert_eq!(t.predicates[1].span, Span::new(17, 27));
}
