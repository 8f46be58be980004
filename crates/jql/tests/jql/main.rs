//! Integration tests of the `jql` crate: grammar rules, error messages, the print/parse round trip, adversarial
//! inputs and the local evaluator.

mod adversarial;
mod errors;
mod eval;
mod grammar;
mod roundtrip;

/// Parses `src` and returns its canonical form, failing the test with the error message otherwise.
pub(crate) fn canonical(src: &str) -> String {
    match jql::parse(src) {
        Ok(query) => query.to_string(),
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

/// The error message for `src`, failing the test if it parses.
pub(crate) fn error(src: &str) -> String {
    match jql::parse(src) {
        Ok(query) => panic!("{src:?} should not parse, got {query}"),
        Err(e) => e.to_string(),
    }
}
