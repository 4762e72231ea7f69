//! Differential conformance: transcripts recorded from a real ZooKeeper, replayed on the model.

pub mod transcript;
