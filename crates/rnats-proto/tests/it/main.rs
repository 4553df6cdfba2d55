//! Property tests of the protocol core: encode→parse round trips of every operation, chunking
//! independence of the parser, header and subject laws, and robustness on arbitrary input.
//!
//! The wire formats are written a second time in [`wire`], from the protocol description, so
//! that the crate's encoder and parser are each checked against an independent implementation.

#![allow(clippy::unwrap_used)]

mod chunking;
mod headers;
mod robustness;
mod roundtrip;
mod strategies;
mod subjects;
mod wire;
