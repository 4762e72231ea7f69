//! The built-in recipes, selectable by name, with the properties each is checked against.

use serde::Serialize;
use zksim_model::op::{EventType, KeeperState};
use zksim_model::recipes::election::{Candidate, ElectionVariant, MASTER};
use zksim_model::recipes::BuiltinRole;
use zksim_model::server::Change;
use zksim_model::ErrorCode;

use crate::event::Event;
use crate::property::Property;
use crate::world::World;

/// Whether a recipe is a variant to check or a mutant carrying one known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeKind {
    /// A recipe as written (correct or not).
    Variant,
    /// A recipe with one planted bug; the checker must find it.
    Mutant,
}

/// A recipe: how to build its processes and what must hold.
pub struct Recipe {
    /// Its name (`--recipe`).
    pub name: &'static str,
    /// Variant or mutant.
    pub kind: RecipeKind,
    /// For a mutant, the property its bug breaks.
    pub breaks: Option<&'static str>,
    /// One line on what it is.
    pub about: &'static str,
    /// The processes, named.
    pub processes: fn() -> Vec<(String, BuiltinRole)>,
    /// The properties checked.
    pub properties: fn() -> Vec<Property<BuiltinRole>>,
}

/// The world every built-in recipe runs in.
pub type BuiltinWorld = World<BuiltinRole>;

/// Every built-in recipe.
pub fn all() -> Vec<Recipe> {
    vec![
        Recipe {
            name: "election",
            kind: RecipeKind::Variant,
            breaks: None,
            about: "three candidates race for the ephemeral /master; a ConnectionLoss on the \
                    create is resolved by reading /master's owner",
            processes: || candidates(ElectionVariant::Correct),
            properties: election_properties,
        },
        Recipe {
            name: "election-assume-leader",
            kind: RecipeKind::Mutant,
            breaks: Some(LEADER_OWNS_MASTER),
            about: "a candidate whose create ends in ConnectionLoss assumes it won: when the \
                    create was not applied and another candidate won, two live leaders",
            processes: || candidates(ElectionVariant::AssumeLeader),
            properties: election_properties,
        },
        Recipe {
            name: "election-blind-retry",
            kind: RecipeKind::Mutant,
            breaks: Some(A_LEADER_IS_ELECTED),
            about: "a candidate whose create ends in ConnectionLoss creates again: when the \
                    first create was applied it finds its own /master, follows it, and no one \
                    ever leads",
            processes: || candidates(ElectionVariant::BlindRetry),
            properties: election_properties,
        },
        Recipe {
            name: "election-resign-no-retry",
            kind: RecipeKind::Mutant,
            breaks: Some(A_LEADER_IS_ELECTED),
            about: "a resigning leader whose delete of /master ends in ConnectionLoss runs \
                    again instead of retrying: its surviving /master blocks everyone",
            processes: || candidates(ElectionVariant::ResignNoRetry),
            properties: election_properties,
        },
        Recipe {
            name: "election-resign-blind-delete",
            kind: RecipeKind::Mutant,
            breaks: Some(LEADER_OWNS_MASTER),
            about: "a resigning leader whose delete of /master ends in ConnectionLoss deletes \
                    again without looking: it can delete the next leader's /master",
            processes: || candidates(ElectionVariant::ResignBlindDelete),
            properties: election_properties,
        },
    ]
}

/// The recipe of that name, or an error listing the known ones.
pub fn find(name: &str) -> Result<Recipe, String> {
    let all = all();
    let names: Vec<&str> = all.iter().map(|r| r.name).collect();
    let known = names.join(", ");
    all.into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| format!("unknown recipe {name:?} (known: {known})"))
}

fn candidates(variant: ElectionVariant) -> Vec<(String, BuiltinRole)> {
    (1..=3)
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

fn candidate(role: &BuiltinRole) -> &Candidate {
    let BuiltinRole::Candidate(c) = role;
    c
}

fn master_owner(w: &BuiltinWorld) -> Option<i64> {
    w.server().tree().get(MASTER).and_then(|n| n.owner())
}

fn election_properties() -> Vec<Property<BuiltinRole>> {
    vec![
        Property::always(MASTER_OWNER_LIVE, |w| {
            master_owner(w).is_none_or(|s| w.server().is_live(s))
        }),
        Property::always(LEADER_OWNS_MASTER, |w| {
            w.processes().iter().all(|p| {
                let leads = candidate(&p.role).is_leading();
                match p.session() {
                    Some(s) if leads && w.server().is_live(s) => master_owner(w) == Some(s),
                    _ => true,
                }
            })
        }),
        Property::eventually(A_LEADER_IS_ELECTED, |w| {
            w.processes().iter().any(|p| {
                candidate(&p.role).is_leading()
                    && p.session().is_some()
                    && master_owner(w) == p.session()
            })
        }),
        Property::sometimes("a candidate led", |w, _| {
            w.processes()
                .iter()
                .any(|p| candidate(&p.role).is_leading())
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
