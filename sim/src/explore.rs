//! Exhaustive exploration (first slice): breadth-first search over every interleaving of the
//! world's enabled actions, with time abstracted and fault budgets bounding the space.
//!
//! Visited states are kept as 64-bit fingerprints (a fixed FNV-1a hash of the whole world, so
//! a run explores the same states in the same order on any machine) with a parent link (24
//! bytes a state at most), so the shortest path to a violation is rebuilt as a list of actions, which
//! [`crate::run::run_actions`] turns into an ordinary trace (`zksim replay` and the renderers
//! work on it). Safety properties are checked in every state; liveness, for now, only in the
//! terminal states reached once faults have stopped. Not yet here: symmetry reduction,
//! cycles for liveness, a parallel mode, a bounded frontier.
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

use std::collections::VecDeque;

use zksim_model::role::Role;

use crate::action::Action;
use crate::options::{Options, TimeMode};
use crate::property::{Check, Property};
use crate::world::World;

pub use zksim_model::hash::Fnv;

/// The fingerprint of a world.
pub fn fingerprint<R: Role>(world: &World<R>) -> u64 {
    zksim_model::hash::fingerprint(world)
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
    // Parent links, by state id: the parent's id and the index of the action, among the
    // parent's enabled actions, that led here (8 bytes a state; the path is rebuilt by
    // re-running those choices from the start).
    let mut parents: Vec<(u32, u16)> = vec![(0, u16::MAX)];
    let mut seen = FingerprintSet::default();
    seen.insert(fingerprint(&start));
    let mut frontier: VecDeque<(World<R>, u32, u32)> = VecDeque::from([(start.clone(), 0, 0)]);
    let mut report = Report {
        states: 1,
        transitions: 0,
        depth: 0,
        complete: true,
        violation: None,
    };
    while let Some((world, id, depth)) = frontier.pop_front() {
        report.depth = report.depth.max(depth);
        let actions = world.enabled_actions();
        if actions.is_empty() && !world.faults_on() {
            if let Some(p) = failing_eventually(&world, properties) {
                let path = rebuild(&start, &parents, id, None);
                report.violation = Some(Violation {
                    property: p.into(),
                    path,
                });
                return report;
            }
        }
        if depth >= limits.depth_max {
            report.complete = report.complete && actions.is_empty();
            continue;
        }
        for (index, action) in actions.into_iter().enumerate() {
            let index = u16::try_from(index).expect("fewer than 65,536 enabled actions");
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
                report.depth = report.depth.max(depth + 1);
                let path = rebuild(&start, &parents, id, Some(index));
                report.violation = Some(Violation {
                    property: p.name.into(),
                    path,
                });
                return report;
            }
            if !seen.insert(fingerprint(&next)) {
                continue;
            }
            if report.states >= limits.states_max {
                report.complete = false;
                return report;
            }
            let next_id = u32::try_from(parents.len()).expect("fewer than 2^32 states");
            parents.push((id, index));
            report.states += 1;
            let broken = properties.iter().find(|p| match p.check {
                Check::Always(holds) => !holds(&next),
                _ => false,
            });
            if let Some(p) = broken {
                report.depth = report.depth.max(depth + 1);
                let path = rebuild(&start, &parents, next_id, None);
                report.violation = Some(Violation {
                    property: p.name.into(),
                    path,
                });
                return report;
            }
            frontier.push_back((next, next_id, depth + 1));
        }
    }
    report
}

/// The actions from the start to state `id` (and then the `last` enabled action, if given),
/// found by following parent links back and re-running the choices forward.
fn rebuild<R: Role>(
    start: &World<R>,
    parents: &[(u32, u16)],
    mut id: u32,
    last: Option<u16>,
) -> Vec<Action> {
    let mut indices: Vec<u16> = last.into_iter().collect();
    while id != 0 {
        let (parent, index) = parents[id as usize];
        indices.push(index);
        id = parent;
    }
    indices.reverse();
    let mut world = start.clone();
    let mut path = Vec::with_capacity(indices.len());
    for index in indices {
        let action = world.enabled_actions().swap_remove(usize::from(index));
        world.step(&action).expect("a recorded choice");
        path.push(action);
    }
    path
}

/// The visited set: fingerprints in an open-addressing table (linear probing, kept at most
/// half full), 16 bytes a state at worst. Hand-written for memory: a general set would store
/// more per entry, and std's are banned in `sim/` for their random seeding.
#[derive(Default)]
struct FingerprintSet {
    slots: Vec<u64>,
    len: usize,
}

impl FingerprintSet {
    /// Adds a fingerprint; false if it was there. (0 marks an empty slot, so fingerprint 0 is
    /// stored as 1: a collision as likely as any other.)
    fn insert(&mut self, fp: u64) -> bool {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let fp = fp.max(1);
        let mask = self.slots.len() - 1;
        let mut i = (fp as usize) & mask;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = fp;
                    self.len += 1;
                    return true;
                }
                x if x == fp => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        self.len = 0;
        for fp in old.into_iter().filter(|fp| *fp != 0) {
            self.insert(fp);
        }
    }
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
