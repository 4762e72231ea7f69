//! A pure, deterministic model of a ZooKeeper 3.8 server and its client library.
//!
//! No I/O, no clock, no randomness that is not passed in: every function here is a plain
//! state transition, so the simulator and the explorer in `zksim-sim` can drive it.
//!
//! - [`server::Server`]: the server (validation in the server's order, zxids, watches, sessions)
//!   over [`tree::DataTree`] (the znodes) and [`watch::Watches`] (the watch tables);
//! - [`client::Client`]: the client library (xids, FIFO replies, ConnectionLoss, reconnect);
//! - [`op`]: the requests, replies and events between them; [`path`]: path validation;
//!   [`children`]: getChildren order as a real server produces it.
#![deny(missing_docs)]

pub mod children;
pub mod client;
pub mod data;
pub mod error;
pub mod hash;
pub mod jute;
pub mod op;
pub mod path;
pub mod recipes;
pub mod role;
pub mod server;
pub mod shared;
pub mod stat;
pub mod tree;
pub mod watch;

pub use data::Data;
pub use error::ErrorCode;
pub use op::{Reply, Request, Response, WatchedEvent};
pub use stat::{SessionId, Stat, Zxid};
