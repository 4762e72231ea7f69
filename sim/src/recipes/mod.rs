//! The built-in recipes, selectable by name, with the properties each is checked against.

use std::sync::Arc;

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

use crate::properties::{self, A_LEADER_IS_ELECTED, LEADER_OWNS_MASTER};
use election::candidates;

/// Whether a recipe is a variant to check or a mutant carrying one known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeKind {
    /// A recipe as written (correct or not).
    Variant,
    /// A recipe with one planted bug; the checker must find it.
    Mutant,
}

/// The processes of a recipe, named, for a run's options and seed.
pub type Processes<R> = dyn Fn(&Options, u64) -> Vec<(String, R)> + Send + Sync;
/// The requests a recipe applies before any process starts, for a run's options.
pub type SetUp = dyn Fn(&Options) -> Vec<Request> + Send + Sync;
/// The properties a recipe is checked against.
pub type Properties<R> = dyn Fn() -> Vec<Property<R>> + Send + Sync;

/// A recipe: what the server holds before it starts, how to build its processes, and what
/// must hold. A value, built by [`Recipe::new`] and the methods that follow it, so a variant
/// can be made at run time from whatever its closures capture. The built-in ones run
/// [`BuiltinRole`]s; a recipe of your own roles (or of built-in roles beside yours, with
/// [`zksim_model::role::Either`]) is a `Recipe<YourRole>`, which [`crate::run::simulate`],
/// [`crate::explore::search_from`], [`crate::scenario::Scenario::run_with`],
/// [`crate::shrink::shrink_with`] and [`crate::run::replay_with`] run like any other, from the
/// world [`Recipe::world`] builds.
///
/// ```
/// use zksim_model::recipes::BuiltinRole;
/// use zksim_sim::recipes::{self, Recipe};
///
/// // The cluster with one more worker than the shape asks for, checked against its
/// // properties.
/// let fixed = recipes::find("fixed").unwrap();
/// let extra: Recipe<BuiltinRole> = Recipe::new("fixed-plus-one", move |options, seed| {
///     let mut options = options.clone();
///     options.shape.workers = Some(options.shape.workers.unwrap_or(2) + 1);
///     fixed.processes(&options, seed)
/// })
/// .about("the fixed cluster with an extra worker")
/// .with_properties(zksim_sim::properties::cluster);
/// assert_eq!(extra.processes(&Default::default(), 0).len(), 7);
/// ```
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
    set_up: Arc<SetUp>,
    processes: Arc<Processes<R>>,
    properties: Arc<Properties<R>>,
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
            set_up: Arc::clone(&self.set_up),
            processes: Arc::clone(&self.processes),
            properties: Arc::clone(&self.properties),
        }
    }
}

impl<R: 'static> Recipe<R> {
    /// A recipe of these processes: a variant, not claimed correct, with no set-up and no
    /// properties until given.
    pub fn new(
        name: &'static str,
        processes: impl Fn(&Options, u64) -> Vec<(String, R)> + Send + Sync + 'static,
    ) -> Self {
        Recipe {
            name,
            kind: RecipeKind::Variant,
            breaks: None,
            verified: false,
            baseline: None,
            about: "",
            set_up: Arc::new(no_set_up),
            processes: Arc::new(processes),
            properties: Arc::new(Vec::new),
        }
    }

    /// The same recipe with this line on what it is.
    pub fn about(mut self, about: &'static str) -> Self {
        self.about = about;
        self
    }

    /// The same recipe, checked against these properties.
    pub fn with_properties(
        mut self,
        properties: impl Fn() -> Vec<Property<R>> + Send + Sync + 'static,
    ) -> Self {
        self.properties = Arc::new(properties);
        self
    }

    /// The same recipe, with these requests applied before any process starts, by a session
    /// of their own that closes ([`World::with_set_up`]). They must succeed on an empty tree.
    pub fn with_set_up(
        mut self,
        set_up: impl Fn(&Options) -> Vec<Request> + Send + Sync + 'static,
    ) -> Self {
        self.set_up = Arc::new(set_up);
        self
    }

    /// The same recipe, claimed correct: every property is expected to hold.
    pub fn verified(mut self) -> Self {
        self.verified = true;
        self
    }

    /// The same recipe as a mutant of `baseline` whose planted bug breaks the property
    /// `breaks`.
    pub fn mutant_of(mut self, baseline: &'static str, breaks: &'static str) -> Self {
        self.kind = RecipeKind::Mutant;
        self.baseline = Some(baseline);
        self.breaks = Some(breaks);
        self.verified = false;
        self
    }
}

impl<R> Recipe<R> {
    /// The processes, named, for these options and the run's seed.
    pub fn processes(&self, options: &Options, seed: u64) -> Vec<(String, R)> {
        (self.processes)(options, seed)
    }

    /// The requests applied before any process starts, for these options: the cluster's
    /// queued tasks; none for most recipes.
    pub fn set_up(&self, options: &Options) -> Vec<Request> {
        (self.set_up)(options)
    }

    /// The properties checked.
    pub fn properties(&self) -> Vec<Property<R>> {
        (self.properties)()
    }
}

impl<R: Role> Recipe<R> {
    /// The world a run of this recipe starts in, for these options and seed: its set-up
    /// applied, then its processes started. The events are the set-up's changes and the
    /// starts.
    pub fn world(&self, options: &Options, seed: u64) -> (World<R>, Vec<Event>) {
        let roles = self.processes(options, seed);
        World::with_set_up(options.clone(), &self.set_up(options), roles, seed)
    }
}

/// The set-up of a recipe that needs none: the server starts empty.
pub fn no_set_up(_: &Options) -> Vec<Request> {
    Vec::new()
}

/// The world every built-in recipe runs in.
pub type BuiltinWorld = World<BuiltinRole>;

/// An election recipe: the candidates of `variant`, checked against the election's
/// properties.
fn election_recipe(name: &'static str, variant: ElectionVariant) -> Recipe {
    Recipe::new(name, move |o, _| candidates(variant, o)).with_properties(properties::election)
}

/// Every built-in recipe.
pub fn all() -> Vec<Recipe> {
    let mut all = vec![
        election_recipe("election", ElectionVariant::Correct)
            .about(
                "three candidates race for the ephemeral /master; a ConnectionLoss on the \
                 create is resolved by reading /master's owner",
            )
            .verified(),
        election_recipe("election-assume-leader", ElectionVariant::AssumeLeader)
            .about(
                "a candidate whose create ends in ConnectionLoss assumes it won: when the \
                 create was not applied and another candidate won, two live leaders",
            )
            .mutant_of("election", LEADER_OWNS_MASTER),
        election_recipe("election-blind-retry", ElectionVariant::BlindRetry)
            .about(
                "a candidate whose create ends in ConnectionLoss creates again: when the \
                 first create was applied it finds its own /master, follows it, and no one \
                 ever leads",
            )
            .mutant_of("election", A_LEADER_IS_ELECTED),
        election_recipe("election-resign-no-retry", ElectionVariant::ResignNoRetry)
            .about(
                "a resigning leader whose delete of /master ends in ConnectionLoss runs \
                 again instead of retrying: its surviving /master blocks everyone",
            )
            .mutant_of("election", A_LEADER_IS_ELECTED),
        election_recipe(
            "election-resign-blind-delete",
            ElectionVariant::ResignBlindDelete,
        )
        .about(
            "a resigning leader whose delete of /master ends in ConnectionLoss deletes \
                 again without looking: it can delete the next leader's /master",
        )
        .mutant_of("election", LEADER_OWNS_MASTER),
    ];
    all.extend(cluster::recipes());
    all
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
