//! Properties: named predicates over the world (and a step's events), kept apart from roles.

use crate::event::Event;
use crate::world::World;

/// When a property must hold.
pub enum Check<R> {
    /// In every state (safety). Evaluated after every step; the explorer evaluates it in every
    /// state it visits.
    Always(fn(&World<R>) -> bool),
    /// On every step (safety over transitions): the state after the step and the step's events,
    /// e.g. "an assignment is accepted only from the session that owns /master".
    Step(fn(&World<R>, &[Event]) -> bool),
    /// In some step of a run (non-vacuity): a green run that never reached it tested nothing.
    Sometimes(fn(&World<R>, &[Event]) -> bool),
    /// At the end of the liveness phase, once faults have stopped (liveness).
    Eventually(fn(&World<R>) -> bool),
}

/// A named property.
pub struct Property<R> {
    /// Its name, a sentence (`at most one live session owns /master`).
    pub name: &'static str,
    /// How it is checked.
    pub check: Check<R>,
}

impl<R> Property<R> {
    /// A safety property.
    pub fn always(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Always(f),
        }
    }

    /// A safety property of each step.
    pub fn each_step(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Step(f),
        }
    }

    /// A non-vacuity property.
    pub fn sometimes(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Sometimes(f),
        }
    }

    /// A liveness property.
    pub fn eventually(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Eventually(f),
        }
    }
}
