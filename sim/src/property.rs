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

/// What a safety property reads: the explorer's partial-order reduction needs to know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reads {
    /// Anything in the world (roles, client handles, links) and any event. The default.
    #[default]
    Anything,
    /// Only the shared state: the server (tree, sessions), the roles' claims
    /// ([`World::noted`]), the processes' names, and of a step's events only those of the
    /// server ([`Event::Changed`], [`Event::Handled`]) and claims ([`Event::Noted`]). Then a
    /// message reaching a process that makes no claim changes nothing the property sees, and
    /// the explorer may take it alone (see `explore`). A property that reads more but is
    /// marked so makes the reduction unsound: mark only what is true.
    SharedState,
}

/// A named property.
pub struct Property<R> {
    /// Its name, a sentence (`at most one live session owns /master`).
    pub name: &'static str,
    /// How it is checked.
    pub check: Check<R>,
    /// What it reads (safety properties; the others are checked where reduction keeps them
    /// sound whatever they read).
    pub reads: Reads,
}

impl<R> Property<R> {
    /// A safety property.
    pub fn always(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Always(f),
            reads: Reads::Anything,
        }
    }

    /// A safety property of each step.
    pub fn each_step(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Step(f),
            reads: Reads::Anything,
        }
    }

    /// A non-vacuity property.
    pub fn sometimes(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Sometimes(f),
            reads: Reads::Anything,
        }
    }

    /// A liveness property.
    pub fn eventually(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Eventually(f),
            reads: Reads::Anything,
        }
    }

    /// The same property, declared to read only the shared state ([`Reads::SharedState`]).
    pub fn shared_state_only(mut self) -> Self {
        self.reads = Reads::SharedState;
        self
    }
}
