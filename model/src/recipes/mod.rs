//! The recipes zksim checks, as roles.

pub mod election;

use crate::role::{Ctx, Input, Role};

/// Every built-in role, so one world type can run any built-in recipe.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRole {
    /// A leader-election candidate.
    Candidate(election::Candidate),
}

impl Role for BuiltinRole {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match self {
            BuiltinRole::Candidate(c) => c.handle(input, ctx),
        }
    }

    fn summary(&self) -> String {
        match self {
            BuiltinRole::Candidate(c) => c.summary(),
        }
    }
}
