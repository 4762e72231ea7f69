//! zksim: deterministic simulation and model checking of ZooKeeper coordination recipes.
#![deny(missing_docs)]

pub mod bench_cmd;
pub mod check_cmd;
pub mod confirm_cmd;
pub mod conform_cmd;
pub mod conformance;
pub mod diff_cmd;
pub mod exit;
pub mod files;
#[doc(hidden)]
pub mod fuzz;
pub mod html;
pub mod interrupt;
pub mod merge_cmd;
pub mod out;
pub mod recorder;
pub mod run_cmd;
pub mod shrink_cmd;
pub mod sim_cmd;
