//! The election recipe's processes. Its properties are [`crate::properties::election`].

use zksim_model::recipes::election::{Candidate, ElectionVariant};
use zksim_model::recipes::BuiltinRole;

use crate::options::Options;

pub(crate) fn candidates(
    variant: ElectionVariant,
    options: &Options,
) -> Vec<(String, BuiltinRole)> {
    (1..=options.shape.masters.unwrap_or(3))
        .map(|i| {
            let name = format!("c{i}");
            (
                name.clone(),
                BuiltinRole::Candidate(Candidate::new(name, variant)),
            )
        })
        .collect()
}

pub use crate::properties::{
    A_LEADER_IS_ELECTED, LEADER_OWNS_MASTER, ONE_LIVE_MASTER as MASTER_OWNER_LIVE,
};
