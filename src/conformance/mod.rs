//! Differential conformance: transcripts recorded from a real ZooKeeper, replayed on the model.
//!
//! [`transcript`] is the file format, [`harness`] runs steps on the model, and [`check`]
//! compares a transcript's recorded expectations with what the model does, step by step.

pub mod check;
pub mod harness;
pub mod transcript;
