//! The built-in recipes, selectable by name, with the properties each is checked against.

use serde::Serialize;
use zksim_model::op::Request;
use zksim_model::recipes::election::ElectionVariant;
use zksim_model::recipes::BuiltinRole;
use zksim_model::role::Role;

use crate::event::Event;
use crate::options::{Invalid, Options, Shape};
use crate::property::Property;
use crate::world::World;

pub mod cluster;
pub mod election;

use election::{candidates, election_properties, A_LEADER_IS_ELECTED, LEADER_OWNS_MASTER};

/// Whether a recipe is a variant to check or a mutant carrying one known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeKind {
    /// A recipe as written (correct or not).
    Variant,
    /// A recipe with one planted bug; the checker must find it.
    Mutant,
}

/// A recipe: what the server holds before it starts, how to build its processes, and what
/// must hold. The built-in ones run [`BuiltinRole`]s; a recipe of your own roles is a
/// `Recipe<YourRole>`, which [`crate::run::simulate`], [`crate::run::run_actions`] and
/// [`crate::run::replay_with`] run like any other, from the world [`Recipe::world`] builds.
pub struct Recipe<R = BuiltinRole> {
    /// Its name (`--recipe`).
    pub name: &'static str,
    /// Variant or mutant.
    pub kind: RecipeKind,
    /// For a mutant, the property its bug breaks.
    pub breaks: Option<&'static str>,
    /// Whether every property is expected to hold (the correct recipes); `book` and
    /// `seed-naive` are variants as written, bugs included.
    pub verified: bool,
    /// For a mutant, the correct recipe it was made from.
    pub baseline: Option<&'static str>,
    /// One line on what it is.
    pub about: &'static str,
    /// The requests applied before any process starts, for these options, by a session of
    /// their own that closes ([`World::with_set_up`]): the cluster's queued tasks; none
    /// ([`no_set_up`]) for most recipes. They must succeed on an empty tree.
    pub set_up: fn(&Options) -> Vec<Request>,
    /// The processes, named, for these options and the run's seed.
    pub processes: fn(&Options, u64) -> Vec<(String, R)>,
    /// The properties checked.
    pub properties: fn() -> Vec<Property<R>>,
}

// By hand: a derive would ask `R: Clone`, though only functions of `R` are held.
impl<R> Clone for Recipe<R> {
    fn clone(&self) -> Self {
        Recipe {
            name: self.name,
            kind: self.kind,
            breaks: self.breaks,
            verified: self.verified,
            baseline: self.baseline,
            about: self.about,
            set_up: self.set_up,
            processes: self.processes,
            properties: self.properties,
        }
    }
}

impl<R: Role> Recipe<R> {
    /// The world a run of this recipe starts in, for these options and seed: its set-up
    /// applied, then its processes started. The events are the set-up's changes and the
    /// starts.
    pub fn world(&self, options: &Options, seed: u64) -> (World<R>, Vec<Event>) {
        let roles = (self.processes)(options, seed);
        World::with_set_up(options.clone(), &(self.set_up)(options), roles, seed)
    }
}

/// The set-up of a recipe that needs none: the server starts empty.
pub fn no_set_up(_: &Options) -> Vec<Request> {
    Vec::new()
}

/// The world every built-in recipe runs in.
pub type BuiltinWorld = World<BuiltinRole>;

/// Every built-in recipe.
pub fn all() -> Vec<Recipe> {
    let mut all = vec![
        Recipe {
            name: "election",
            kind: RecipeKind::Variant,
            breaks: None,
            verified: true,
            baseline: None,
            about: "three candidates race for the ephemeral /master; a ConnectionLoss on the \
                    create is resolved by reading /master's owner",
            set_up: no_set_up,
            processes: |o, _| candidates(ElectionVariant::Correct, o),
            properties: election_properties,
        },
        Recipe {
            name: "election-assume-leader",
            kind: RecipeKind::Mutant,
            breaks: Some(LEADER_OWNS_MASTER),
            verified: false,
            baseline: Some("election"),
            about: "a candidate whose create ends in ConnectionLoss assumes it won: when the \
                    create was not applied and another candidate won, two live leaders",
            set_up: no_set_up,
            processes: |o, _| candidates(ElectionVariant::AssumeLeader, o),
            properties: election_properties,
        },
        Recipe {
            name: "election-blind-retry",
            kind: RecipeKind::Mutant,
            breaks: Some(A_LEADER_IS_ELECTED),
            verified: false,
            baseline: Some("election"),
            about: "a candidate whose create ends in ConnectionLoss creates again: when the \
                    first create was applied it finds its own /master, follows it, and no one \
                    ever leads",
            set_up: no_set_up,
            processes: |o, _| candidates(ElectionVariant::BlindRetry, o),
            properties: election_properties,
        },
        Recipe {
            name: "election-resign-no-retry",
            kind: RecipeKind::Mutant,
            breaks: Some(A_LEADER_IS_ELECTED),
            verified: false,
            baseline: Some("election"),
            about: "a resigning leader whose delete of /master ends in ConnectionLoss runs \
                    again instead of retrying: its surviving /master blocks everyone",
            set_up: no_set_up,
            processes: |o, _| candidates(ElectionVariant::ResignNoRetry, o),
            properties: election_properties,
        },
        Recipe {
            name: "election-resign-blind-delete",
            kind: RecipeKind::Mutant,
            breaks: Some(LEADER_OWNS_MASTER),
            verified: false,
            baseline: Some("election"),
            about: "a resigning leader whose delete of /master ends in ConnectionLoss deletes \
                    again without looking: it can delete the next leader's /master",
            set_up: no_set_up,
            processes: |o, _| candidates(ElectionVariant::ResignBlindDelete, o),
            properties: election_properties,
        },
    ];
    all.extend(cluster::recipes());
    all
}

/// The session owning `/master` (both recipes race for the same node).
pub(crate) fn master_owner<R: zksim_model::role::Role>(
    w: &World<R>,
) -> Option<zksim_model::SessionId> {
    let master = zksim_model::recipes::cluster::MASTER;
    debug_assert_eq!(master, zksim_model::recipes::election::MASTER);
    w.server().tree().get(master).and_then(|n| n.owner())
}

/// The [`Shape`] fields a built-in recipe has roles for (`masters` alone for the election and
/// its mutants, whose processes are candidates); `None` for a recipe of your own, whose shape
/// is yours to check.
pub fn shape_fields(name: &str) -> Option<&'static [&'static str]> {
    if cluster::recipes().iter().any(|r| r.name == name) {
        Some(&["masters", "workers", "clients", "tasks", "queued"])
    } else if all().iter().any(|r| r.name == name) {
        Some(&["masters"])
    } else {
        None
    }
}

/// Refuses a shape field the recipe has no role for (`workers` on `election`), which would
/// otherwise be silently ignored.
pub fn check_shape(name: &str, shape: &Shape) -> Result<(), Invalid> {
    let Some(fields) = shape_fields(name) else {
        return Ok(());
    };
    for (field, _) in shape.given() {
        let role = field.trim_start_matches("shape.");
        if !fields.contains(&role) {
            let what = match role {
                "tasks" => "clients with tasks",
                "queued" => "queued tasks",
                other => other,
            };
            return Err(Invalid {
                field,
                problem: format!(
                    "recipe {name} has no {what}: its only processes are candidates (masters)"
                ),
            });
        }
    }
    Ok(())
}

/// [`Options::validate`], then [`check_shape`]: options a run of this recipe can take.
pub fn validate(name: &str, options: &Options) -> Result<(), Invalid> {
    options.validate()?;
    check_shape(name, &options.shape)
}

/// The recipe of that name, or an error listing the known ones.
pub fn find(name: &str) -> Result<Recipe, crate::error::UnknownRecipe> {
    let all = all();
    let known = all.iter().map(|r| r.name.to_string()).collect();
    all.into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| crate::error::UnknownRecipe {
            name: name.to_string(),
            known,
        })
}
