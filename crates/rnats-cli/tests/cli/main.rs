//! The built `rnats` binary against real nats-server processes (rnats-test).
#![allow(clippy::unwrap_used, missing_docs)]

mod auth;
mod basic;
mod bench;
mod common;
mod jetstream;
mod kv;
mod micro;
mod obj;
