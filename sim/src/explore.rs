//! Exhaustive exploration (first slice): breadth-first search over every interleaving of the
//! world's enabled actions, with time abstracted and fault budgets bounding the space.
//!
//! Visited states are kept as 64-bit fingerprints (a fixed FNV-1a hash of the whole world, so
//! a run explores the same states in the same order on any machine) with a parent link, so the
//! shortest path to a violation is rebuilt as a list of actions, which
//! [`crate::run::run_actions`] turns into an ordinary trace (`zksim replay` and the renderers
//! work on it). Safety properties are checked in every state; liveness, for now, only in the
//! terminal states reached once faults have stopped. Not yet here: symmetry reduction,
//! cycles for liveness, a parallel mode, a compact visited set.
//!
//! ```
//! use zksim_sim::explore::{explore, Limits};
//! use zksim_sim::options::{Options, TimeMode};
//! use zksim_sim::recipes;
//!
//! let recipe = recipes::find("election").unwrap();
//! let options = Options {
//!     time: TimeMode::Abstract, crashes_max: 0, kills_max: 0, disconnects_max: 1, expiries_max: 0,
//!     shape: zksim_sim::options::Shape { masters: Some(2), ..Default::default() },
//!     ..Options::default()
//! };
//! let roles = (recipe.processes)(&options, 0);
//! let report = explore(roles, &options, &(recipe.properties)(), &Limits::default());
//! assert!(report.complete && report.violation.is_none());
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use zksim_model::role::Role;

use crate::action::Action;
use crate::options::{Options, TimeMode};
use crate::property::{Check, Property};
use crate::world::World;

/// FNV-1a, 64 bits: a fingerprint that is the same on every machine and Rust version (std's
/// hashers promise neither), for the visited set. Hand-written: it is a dozen lines.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The fingerprint of a world.
pub fn fingerprint<R: Role>(world: &World<R>) -> u64 {
    let mut h = Fnv::default();
    world.hash(&mut h);
    h.finish()
}

/// Where the search stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Distinct states to visit at most; the search stops cleanly and says so.
    pub states_max: u64,
    /// Depth (steps from the start) to explore at most.
    pub depth_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            states_max: 2_000_000,
            depth_max: 1000,
        }
    }
}

/// A property that failed, with the shortest path to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property's name.
    pub property: String,
    /// The actions from the start that lead to it.
    pub path: Vec<Action>,
}

/// What a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Distinct states visited.
    pub states: u64,
    /// Transitions taken (including those into states seen before).
    pub transitions: u64,
    /// The deepest level reached.
    pub depth: u32,
    /// Whether every reachable state within the budgets was visited (no limit hit).
    pub complete: bool,
    /// The first violation found (breadth-first: a shortest counterexample).
    pub violation: Option<Violation>,
}

/// Explores every interleaving from the start. `options.time` must be abstract (with a clock
/// the space is infinite); the world's fault budgets bound it.
pub fn explore<R: Role>(
    roles: Vec<(String, R)>,
    options: &Options,
    properties: &[Property<R>],
    limits: &Limits,
) -> Report {
    assert_eq!(
        options.time,
        TimeMode::Abstract,
        "the explorer needs abstract time"
    );
    let (start, _) = World::new(options.clone(), roles, 0);
    // Parent links: state id -> (parent id, action). The root is its own parent.
    let mut parents: Vec<(u32, Option<Action>)> = vec![(0, None)];
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    seen.insert(fingerprint(&start), 0);
    let mut frontier: VecDeque<(World<R>, u32, u32)> = VecDeque::from([(start, 0, 0)]);
    let mut report = Report {
        states: 1,
        transitions: 0,
        depth: 0,
        complete: true,
        violation: None,
    };
    let path_to = |parents: &[(u32, Option<Action>)], mut id: u32| {
        let mut path = Vec::new();
        while let (parent, Some(action)) = &parents[id as usize] {
            path.push(action.clone());
            id = *parent;
        }
        path.reverse();
        path
    };
    while let Some((world, id, depth)) = frontier.pop_front() {
        report.depth = report.depth.max(depth);
        let actions = world.enabled_actions();
        if actions.is_empty() && !world.faults_on() {
            if let Some(p) = failing_eventually(&world, properties) {
                report.violation = Some(Violation {
                    property: p.into(),
                    path: path_to(&parents, id),
                });
                return report;
            }
        }
        if depth >= limits.depth_max {
            report.complete = report.complete && actions.is_empty();
            continue;
        }
        for action in actions {
            let mut next = world.clone();
            let events = next.step(&action).expect("an enabled action");
            report.transitions += 1;
            // Step properties judge the transition, so they are checked even into a state
            // seen before.
            let bad_step = properties.iter().find(|p| match p.check {
                Check::Step(holds) => !holds(&next, &events),
                _ => false,
            });
            if let Some(p) = bad_step {
                let mut path = path_to(&parents, id);
                path.push(action);
                report.depth = report.depth.max(depth + 1);
                report.violation = Some(Violation {
                    property: p.name.into(),
                    path,
                });
                return report;
            }
            let fp = fingerprint(&next);
            if seen.contains_key(&fp) {
                continue;
            }
            if report.states >= limits.states_max {
                report.complete = false;
                return report;
            }
            let next_id = parents.len() as u32;
            parents.push((id, Some(action)));
            seen.insert(fp, next_id);
            report.states += 1;
            let broken = properties.iter().find(|p| match p.check {
                Check::Always(holds) => !holds(&next),
                _ => false,
            });
            if let Some(p) = broken {
                report.depth = report.depth.max(depth + 1);
                report.violation = Some(Violation {
                    property: p.name.into(),
                    path: path_to(&parents, next_id),
                });
                return report;
            }
            frontier.push_back((next, next_id, depth + 1));
        }
    }
    report
}

fn failing_eventually<R: Role>(
    world: &World<R>,
    properties: &[Property<R>],
) -> Option<&'static str> {
    properties.iter().find_map(|p| match p.check {
        Check::Eventually(holds) if !holds(world) => Some(p.name),
        _ => None,
    })
}
