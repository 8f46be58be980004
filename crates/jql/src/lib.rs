//! JQL: lexer, parser, canonical printer and local evaluator (issue #3).
#![forbid(unsafe_code)]
