//! The recipes zksim checks, as roles.

pub mod cluster;
pub mod election;

use crate::role::{Ctx, Input, Role, Standing};

/// Every built-in role, so one world type can run any built-in recipe.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRole {
    /// A leader-election candidate.
    Candidate(election::Candidate),
    /// A master candidate of the cluster.
    Master(cluster::Master),
    /// A worker of the cluster.
    Worker(cluster::Worker),
    /// A client of the cluster.
    Client(cluster::Client),
}

impl Role for BuiltinRole {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match self {
            BuiltinRole::Candidate(c) => c.handle(input, ctx),
            BuiltinRole::Master(m) => m.handle(input, ctx),
            BuiltinRole::Worker(w) => w.handle(input, ctx),
            BuiltinRole::Client(c) => c.handle(input, ctx),
        }
    }

    fn summary(&self) -> String {
        match self {
            BuiltinRole::Candidate(c) => c.summary(),
            BuiltinRole::Master(m) => m.summary(),
            BuiltinRole::Worker(w) => w.summary(),
            BuiltinRole::Client(c) => c.summary(),
        }
    }

    fn standing(&self) -> Standing {
        match self {
            BuiltinRole::Candidate(c) => c.standing(),
            BuiltinRole::Master(m) => m.standing(),
            BuiltinRole::Worker(w) => w.standing(),
            BuiltinRole::Client(c) => c.standing(),
        }
    }
}
