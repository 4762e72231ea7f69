//! The simulated world that drives the zksim model, and its drivers.
//!
//! - [`world::World`]: server, processes, links, clock, fault budgets; [`action::Action`] is
//!   every nondeterministic choice and [`event::Event`] what a step did;
//! - [`options::Options`]: the knobs of a run, with a seeded `swarm` constructor;
//! - [`recipes`]: the built-in recipes, and [`Recipe`](recipes::Recipe), built for one's own;
//! - [`property`]: what a property is; [`properties`]: the recipe properties, over the roles'
//!   typed claims and the tree, for any recipe's roles;
//! - [`run`]: seeded simulation and replay; [`trace`]: the JSON-lines trace format;
//! - [`coverage`]: the protocol points runs reached, and the faults right after them;
//! - [`scenario`]: scripted scenarios (TOML) with expectations;
//! - [`shrink`]: a failing trace reduced to a smaller one that fails alike;
//! - [`plural`]: "1 step", "2 steps" in messages;
//! - [`error`]: the errors, one type per area ([`Error`] is any of them);
//! - [`files`]: writing a file through a temporary one and a rename, so nothing is lost;
//! - `proptest` (feature `proptest`, on by default): strategies over shapes, fault plans and
//!   seeds, and `check_plan`, for property tests in your own crate.
#![deny(missing_docs)]

pub mod action;
pub mod coverage;
pub mod error;
pub mod event;
pub mod explore;
pub mod files;
pub mod options;
pub mod plural;
pub mod properties;
pub mod property;
#[cfg(feature = "proptest")]
pub mod proptest;
pub mod recipes;
pub mod render;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod trace;
pub mod world;

pub use error::Error;
