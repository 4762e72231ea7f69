//! The election recipe's processes and properties.

use zksim_model::op::{EventType, KeeperState};
use zksim_model::recipes::election::{Candidate, ElectionVariant, MASTER};
use zksim_model::recipes::BuiltinRole;
use zksim_model::server::Change;
use zksim_model::ErrorCode;

use super::master_owner;
use crate::event::Event;
use crate::options::Options;
use crate::property::Property;

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

/// `/master` belongs to a session the server still has (the model's own guarantee).
pub const MASTER_OWNER_LIVE: &str = "at most one live session owns /master";
/// Every candidate that believes it leads, and whose session is live, owns `/master`.
pub const LEADER_OWNS_MASTER: &str = "a leader with a live session owns /master";
/// After faults stop, someone leads.
pub const A_LEADER_IS_ELECTED: &str = "a leader is elected once faults stop";

fn candidate(role: &BuiltinRole) -> Option<&Candidate> {
    match role {
        BuiltinRole::Candidate(c) => Some(c),
        _ => None,
    }
}

fn leading(role: &BuiltinRole) -> bool {
    candidate(role).is_some_and(Candidate::is_leading)
}

pub(crate) fn election_properties() -> Vec<Property<BuiltinRole>> {
    vec![
        Property::always(MASTER_OWNER_LIVE, |w| {
            master_owner(w).is_none_or(|s| w.server().is_live(s))
        }),
        Property::always(LEADER_OWNS_MASTER, |w| {
            w.processes().iter().all(|p| {
                let leads = leading(&p.role);
                match p.session() {
                    Some(s) if leads && w.server().is_live(s) => master_owner(w) == Some(s),
                    _ => true,
                }
            })
        }),
        Property::eventually(A_LEADER_IS_ELECTED, |w| {
            w.processes().iter().any(|p| {
                leading(&p.role) && p.session().is_some() && master_owner(w) == p.session()
            })
        }),
        Property::sometimes("a candidate led", |w, _| {
            w.processes().iter().any(|p| leading(&p.role))
        }),
        Property::sometimes("a leader stepped down or lost its session", |_, ev| {
            ev.iter().any(|e| {
                matches!(e, Event::Changed { change: Change::Deleted { path, .. } } if path == MASTER)
            })
        }),
        Property::sometimes("a session expired", |_, ev| {
            ev.iter().any(|e| {
                matches!(e, Event::Changed { change: Change::SessionClosed { expired: true, .. } })
                    || matches!(e, Event::Notified { event, .. } if event.kind == EventType::None && event.state == KeeperState::Expired)
            })
        }),
        Property::sometimes("a call ended in ConnectionLoss", |_, ev| {
            ev.iter().any(|e| {
                matches!(
                    e,
                    Event::Replied {
                        reply: Err(ErrorCode::ConnectionLoss),
                        ..
                    }
                )
            })
        }),
    ]
}
