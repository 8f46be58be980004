//! `jira-sim jql check`: one verdict per input line, in order.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(input: &[u8]) -> (String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jira-sim"))
        .args(["jql", "check"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jira-sim starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("input is written");
    let output = child.wait_with_output().expect("jira-sim finishes");
    (
        String::from_utf8(output.stdout).expect("output is UTF-8"),
        output.status.success(),
    )
}

#[test]
fn prints_one_verdict_per_line() {
    let input = "project = ABC AND status in (Open, \"In Progress\") ORDER BY created DESC\r\n\
                 (a = b\n\
                 \n\
                 summary ~ order\n\
                 a = b \"x\\ny\"\n\
                 a = 50%";
    let (stdout, success) = run(input.as_bytes());
    assert!(success);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "ok",
            "error: Error in the JQL Query: Expecting ')' before the end of the query.",
            "ok",
            "error: Error in the JQL Query: 'order' is a reserved JQL word. You must surround it in quotation marks \
             to use it in a query. (line 1, character 11)",
            // The decoded line break in the quoted token stays on one output line.
            "error: Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'x\\ny'. (line 1, character 7)",
            "error: Error in the JQL Query: The character '%' is a reserved JQL character. You must enclose it in a \
             string or use the escape '\\u0025' instead. (line 1, character 7)",
        ]
    );
}

#[test]
fn invalid_utf8_still_gets_an_answer() {
    let (stdout, success) = run(b"a = \xff\nkey = ABC-1\n");
    assert!(success);
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["ok", "ok"]);
}

#[test]
fn empty_input_prints_nothing() {
    let (stdout, success) = run(b"");
    assert!(success);
    assert_eq!(stdout, "");
}
