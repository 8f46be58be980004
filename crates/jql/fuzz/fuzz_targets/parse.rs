//! Fuzzes the JQL parser: no input may panic, and every query that parses must print to canonical JQL that
//! parses back to the same tree and prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match jql::parse(src) {
        Ok(query) => {
            let printed = query.to_string();
            let again = match jql::parse(&printed) {
                Ok(again) => again,
                Err(e) => panic!("{src:?} printed as {printed:?}, which does not parse: {e}"),
            };
            assert!(query.same_as(&again), "{src:?} printed as {printed:?}, which parses differently");
            assert_eq!(again.to_string(), printed, "printing is not a fixed point for {src:?}");
        }
        Err(e) => {
            assert!(e.offset <= src.len());
            let _ = e.to_string();
        }
    }
});
