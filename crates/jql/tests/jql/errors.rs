//! Error messages: Jira's wording, positions and what was found.

use jql::{Found, ParseErrorKind, parse};

use crate::error;

#[test]
fn missing_close_paren_at_the_end() {
    assert_eq!(
        error("(a = b"),
        "Error in the JQL Query: Expecting ')' before the end of the query."
    );
}

#[test]
fn expecting_or_or_and() {
    assert_eq!(
        error("project = A foo"),
        "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 13)"
    );
}

#[test]
fn reserved_word_message() {
    assert_eq!(
        error("a = order"),
        "Error in the JQL Query: 'order' is a reserved JQL word. You must surround it in quotation marks to use it \
         in a query. (line 1, character 5)"
    );
}

#[test]
fn reserved_character_message() {
    assert_eq!(
        error("summary ~ 50%"),
        "Error in the JQL Query: The character '%' is a reserved JQL character. You must enclose it in a string or \
         use the escape '\\u0025' instead. (line 1, character 13)"
    );
}

#[test]
fn operator_messages() {
    assert_eq!(
        error("status xyz"),
        "Error in the JQL Query: Expecting operator but got 'xyz'. The valid operators are '=', '!=', '<', '>', \
         '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character 8)"
    );
    assert_eq!(
        error("status"),
        "Error in the JQL Query: Expecting operator before the end of the query. The valid operators are '=', \
         '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
    );
}

#[test]
fn value_field_and_list_messages() {
    assert_eq!(
        error("a ="),
        "Error in the JQL Query: Expecting either a value or function before the end of the query."
    );
    assert_eq!(
        error("a in b"),
        "Error in the JQL Query: Expecting either a list or function but got 'b'. (line 1, character 6)"
    );
    assert_eq!(
        error("a in (b c)"),
        "Error in the JQL Query: Expecting either ',' or ')' but got 'c'. (line 1, character 9)"
    );
    assert_eq!(
        error("a = 1 and"),
        "Error in the JQL Query: Expecting a field name before the end of the query."
    );
    assert_eq!(
        error("order x"),
        "Error in the JQL Query: Expecting 'BY' but got 'x'. (line 1, character 7)"
    );
}

#[test]
fn lexical_error_messages() {
    assert_eq!(
        error("a = \"abc"),
        "Error in the JQL Query: The quoted string 'abc' has not been completed. (line 1, character 5)"
    );
    assert_eq!(
        error(r"a = x\q"),
        "Error in the JQL Query: The escape sequence '\\q' in the JQL query is not valid. (line 1, character 6)"
    );
    assert_eq!(
        error("a = \u{1}"),
        "Error in the JQL Query: The character '\\u0001' is not allowed in a JQL query. (line 1, character 5)"
    );
}

#[test]
fn positions_count_lines_and_characters() {
    let e = parse("project = A\nAND  ünï = x foo").unwrap_err();
    assert_eq!((e.line, e.column), (2, 14));
    assert_eq!(e.offset, "project = A\nAND  ünï = x ".len());
    assert_eq!(e.found, Found::Token("foo".into()));
    assert!(matches!(e.kind, ParseErrorKind::Unexpected(_)));
    let e = parse("a = (").unwrap_err();
    assert_eq!(e.found, Found::Token("(".into()));
    let e = parse("a =").unwrap_err();
    assert_eq!(e.found, Found::EndOfQuery);
    assert_eq!((e.offset, e.line, e.column), (3, 1, 4));
}

#[test]
fn the_first_error_in_reading_order_wins() {
    // The grammar error comes before the lexical one.
    assert!(error("a b %").contains("Expecting operator but got 'b'"));
    // The lexical error comes first.
    assert!(error("a % b").contains("The character '%'"));
}
