//! The simulator over HTTP: one test binary, each test starting its own simulator on 127.0.0.1, port 0.

// Tests may unwrap, helpers included.
#![allow(clippy::unwrap_used)]

mod auth;
mod cli;
mod contract;
mod helpers;
mod limits;
mod people;
mod real;
mod search;
mod webhooks;
