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
    /// Only the shared state: the server (tree, sessions; not which sessions are connected
    /// nor their watches, which a disconnect changes without a change event), the roles' claims
    /// ([`World::noted`]), the processes' names, and of a step's events only those of the
    /// server ([`Event::Changed`], [`Event::Handled`]) and claims ([`Event::Noted`]). Then a
    /// message reaching a process that makes no claim changes nothing the property sees, and
    /// the explorer may take it alone (see `explore`). A property that reads more but is
    /// marked so makes the reduction unsound: mark only what is true.
    SharedState,
}

/// A test of a step: the state after it and its events.
pub type StepTest<R> = fn(&World<R>, &[Event]) -> bool;

/// A named property.
pub struct Property<R> {
    /// Its name, a sentence (`at most one live session owns /master`).
    pub name: &'static str,
    /// How it is checked.
    pub check: Check<R>,
    /// What it reads (safety properties; the others are checked where reduction keeps them
    /// sound whatever they read).
    pub reads: Reads,
    /// For an `Always` property: whether a step (the state after it, its events) may have
    /// broken it, given that it held before; `None`: any step may ([`Property::broken_only_by`]).
    pub may_break: Option<StepTest<R>>,
}

impl<R> Property<R> {
    /// A safety property.
    pub fn always(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Always(f),
            reads: Reads::Anything,
            may_break: None,
        }
    }

    /// A safety property of each step.
    pub fn each_step(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Step(f),
            reads: Reads::Anything,
            may_break: None,
        }
    }

    /// A non-vacuity property.
    pub fn sometimes(name: &'static str, f: fn(&World<R>, &[Event]) -> bool) -> Self {
        Property {
            name,
            check: Check::Sometimes(f),
            reads: Reads::Anything,
            may_break: None,
        }
    }

    /// A liveness property.
    pub fn eventually(name: &'static str, f: fn(&World<R>) -> bool) -> Self {
        Property {
            name,
            check: Check::Eventually(f),
            reads: Reads::Anything,
            may_break: None,
        }
    }

    /// The same property, declared to read only the shared state ([`Reads::SharedState`]).
    pub fn shared_state_only(mut self) -> Self {
        self.reads = Reads::SharedState;
        self
    }

    /// The same `Always` property, checked whole only after the steps `may_break` picks: it
    /// answers, from the state after a step and the step's events, whether that step may have
    /// broken the property when it held before. A property whose whole check costs as much as
    /// the state is large (every task, every claim) then costs what the step touched. Saying
    /// `false` for a step that can break it makes the checker miss the violation: say `true`
    /// when unsure.
    pub fn broken_only_by(mut self, may_break: StepTest<R>) -> Self {
        self.may_break = Some(may_break);
        self
    }

    /// Whether an `Always` property whose predicate is `holds` holds after a step, from a
    /// state where it held. A shared-state property cannot change in a step that changed
    /// neither the server (every change of the tree or the sessions comes with an
    /// [`Event::Changed`]) nor the claims ([`Event::Noted`]); [`Property::broken_only_by`]
    /// narrows it further. Else the whole predicate.
    pub fn holds_after_step(
        &self,
        holds: fn(&World<R>) -> bool,
        world: &World<R>,
        events: &[Event],
    ) -> bool {
        let shared_change = || {
            events
                .iter()
                .any(|e| matches!(e, Event::Changed { .. } | Event::Noted { .. }))
        };
        if self.reads == Reads::SharedState && !shared_change() {
            return true;
        }
        if self
            .may_break
            .is_some_and(|may_break| !may_break(world, events))
        {
            return true;
        }
        holds(world)
    }
}
