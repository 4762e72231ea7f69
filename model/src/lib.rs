//! A pure, deterministic model of a ZooKeeper 3.8 server and its client library.
//!
//! No I/O, no clock, no randomness that is not passed in: every function here is a plain
//! state transition, so the simulator and the explorer in `zksim-sim` can drive it.
#![deny(missing_docs)]

pub mod children;
pub mod data;
pub mod error;
pub mod op;
pub mod stat;

pub use data::Data;
pub use error::ErrorCode;
pub use op::{Reply, Request, Response, WatchedEvent};
pub use stat::{SessionId, Stat, Zxid};
