//! Shrinking a failing trace: fewer steps and fewer faults that still break the same property.
//!
//! A trace's actions are a list; a candidate is a smaller list, replayed with
//! [`run::run_actions`] (so it is checked exactly as a simulation is) and kept only when it
//! breaks the property the original broke first. Passes, repeated until none helps or the
//! replay budget runs out: a smaller cluster (one task, client, worker or master fewer, the
//! actions carried over by process name), drop each fault (and so what depends on it), move `StopFaults`
//! as early as possible, delta debugging over chunks of actions (halving the chunk size),
//! and shorten or merge the passing of time.
//!
//! Before a candidate is replayed it is *normalized* on a bare world: an action that is not
//! enabled when its turn comes is dropped (a `Reconnect` whose `Disconnect` was removed), an
//! `Advance` is cut to what time may advance by then. For a liveness property (judged at
//! the end) the candidate's liveness phase is then completed by a fixed scheduler (repairs,
//! then deliveries and choices, then timers, then time), so that dropping a liveness step
//! does not leave the run merely unfinished; a liveness counterexample must end quiescent
//! (or, when the original ran into its bound, run the whole bound).
//!
//! Everything is deterministic: the same trace and budget give the same result.
//!
//! ```
//! use zksim_sim::options::Options;
//! use zksim_sim::recipes;
//! use zksim_sim::run::{replay, simulate};
//! use zksim_sim::shrink::shrink;
//!
//! let recipe = recipes::find("election-resign-blind-delete").unwrap();
//! let failing = (0..200)
//!     .map(|seed| simulate(&recipe, &Options::default(), seed, false, true).unwrap())
//!     .find(|o| !o.end.violations.is_empty())
//!     .unwrap();
//! let shrunk = shrink(&failing.text.unwrap(), 500).unwrap();
//! assert!(shrunk.report.after.steps <= shrunk.report.before.steps);
//! assert_eq!(replay(&shrunk.text).unwrap(), shrunk.text);
//! ```

use std::collections::BTreeMap;

use zksim_model::stat::SessionId;

use crate::action::Action;
use crate::error::{ShrinkError, WrongRecipe};
use crate::options::Options;
use crate::property::Check;
use crate::recipes::{self, Recipe};
use crate::run::{self, Outcome};
use crate::trace;
use crate::world::World;
use zksim_model::role::Role;

/// Faults in a list of actions, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// `Crash` actions.
    pub crashes: u64,
    /// `Kill` actions.
    pub kills: u64,
    /// `Disconnect` actions.
    pub disconnects: u64,
    /// `Expire` actions.
    pub expiries: u64,
}

impl Faults {
    /// Counts the faults among these actions.
    pub fn of(actions: &[Action]) -> Self {
        let mut f = Faults::default();
        for a in actions {
            match a {
                Action::Crash { .. } => f.crashes += 1,
                Action::Kill { .. } => f.kills += 1,
                Action::Disconnect { .. } => f.disconnects += 1,
                Action::Expire { .. } => f.expiries += 1,
                _ => {}
            }
        }
        f
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.crashes + self.kills + self.disconnects + self.expiries
    }
}

/// The size of a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// Steps (actions).
    pub steps: u64,
    /// Its faults.
    pub faults: Faults,
    /// The cluster's shape: masters, workers, clients, tasks per client, as the recipe
    /// reads them (a dimension the recipe ignores counts 1).
    pub shape: [u32; 4],
}

impl Size {
    fn of(actions: &[Action], shape: [u32; 4]) -> Self {
        Size {
            steps: actions.len() as u64,
            faults: Faults::of(actions),
            shape,
        }
    }
}

/// What a shrink did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The property broken, before and after (the original's first violation).
    pub property: String,
    /// The original's size.
    pub before: Size,
    /// The result's size.
    pub after: Size,
    /// Candidates replayed.
    pub replays: u64,
    /// Whether the replay budget ran out before no pass could shrink further.
    pub stopped_early: bool,
}

/// A shrunk trace.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The trace text: an ordinary trace, which replays byte for byte.
    pub text: String,
    /// The sizes before and after.
    pub report: Report,
}

/// Shrinks a failing trace, replaying at most `replays_max` candidates. Errors when the
/// text is not a complete trace, does not replay, or breaks no property.
pub fn shrink(text: &str, replays_max: u64) -> Result<Shrunk, ShrinkError> {
    let t = trace::parse(text)?;
    let recipe = recipes::find(&t.header.recipe).map_err(ShrinkError::UnknownRecipe)?;
    shrink_with(&recipe, text, replays_max)
}

/// [`shrink`] for a recipe that is not built in (a recipe of your own roles): the trace's
/// header must name it.
pub fn shrink_with<R: Role>(
    recipe: &Recipe<R>,
    text: &str,
    replays_max: u64,
) -> Result<Shrunk, ShrinkError> {
    let t = trace::parse(text)?;
    if t.header.recipe != recipe.name {
        return Err(WrongRecipe {
            trace: t.header.recipe.clone(),
            recipe: recipe.name.to_string(),
        }
        .into());
    }
    let end = t.end.as_ref().ok_or_else(|| ShrinkError::Truncated {
        line: text.lines().filter(|l| !l.trim().is_empty()).count(),
        step: t.steps.len() as u64 - 1,
    })?;
    let first = end.violations.first().ok_or(ShrinkError::NoViolation)?;
    run::replay_with(recipe, text).map_err(ShrinkError::DoesNotReplay)?;
    let eventually = recipe
        .properties()
        .iter()
        .any(|p| p.name == first.property && matches!(p.check, Check::Eventually(_)));
    let actions: Vec<Action> = t.steps.iter().filter_map(|s| s.action.clone()).collect();
    let shape_before = effective_shape(recipe, &t.header.options, t.header.seed);
    let mut s = Shrinker {
        recipe,
        options: t.header.options.clone(),
        seed: t.header.seed,
        property: first.property.clone(),
        eventually,
        bound_ok: !end.quiescent,
        replays: 0,
        replays_max,
        exhausted: false,
        best: actions.clone(),
        best_text: text.to_string(),
    };
    s.run_passes();
    let report = Report {
        property: s.property.clone(),
        before: Size::of(&actions, shape_before),
        after: Size::of(&s.best, effective_shape(s.recipe, &s.options, s.seed)),
        replays: s.replays,
        stopped_early: s.exhausted,
    };
    Ok(Shrunk {
        text: s.best_text,
        report,
    })
}

/// The state of one shrink: the smallest failing list so far and the budget.
struct Shrinker<'r, R> {
    recipe: &'r Recipe<R>,
    options: Options,
    seed: u64,
    property: String,
    /// Whether the property is judged at the end (a liveness property).
    eventually: bool,
    /// Whether a liveness counterexample may end at the liveness bound rather than quiescent
    /// (only when the original did).
    bound_ok: bool,
    replays: u64,
    replays_max: u64,
    exhausted: bool,
    best: Vec<Action>,
    best_text: String,
}

/// What "smaller" means, compared in order: fewer steps, fewer faults, less time passed,
/// an earlier end of faults. Every accepted candidate is strictly smaller, so shrinking ends.
fn measure(actions: &[Action]) -> (usize, u64, u64, usize) {
    let time: u64 = actions
        .iter()
        .map(|a| match a {
            Action::Advance { ms } => *ms,
            _ => 0,
        })
        .sum();
    let stop = actions
        .iter()
        .position(|a| *a == Action::StopFaults)
        .unwrap_or(actions.len());
    (actions.len(), Faults::of(actions).total(), time, stop)
}

impl<R: Role> Shrinker<'_, R> {
    fn run_passes(&mut self) {
        loop {
            let before = (measure(&self.best), self.options.shape);
            self.shrink_shape();
            self.drop_faults();
            self.freeze_processes();
            self.stop_faults_early();
            self.ddmin();
            self.shorten_time();
            if self.exhausted || (measure(&self.best), self.options.shape) == before {
                return;
            }
        }
    }

    /// Replays a candidate; keeps it when it is smaller and breaks the same property.
    fn try_candidate(&mut self, candidate: &[Action]) -> bool {
        let candidate = self.normalize(candidate);
        if measure(&candidate) >= measure(&self.best) {
            return false;
        }
        self.replay_candidate(candidate)
    }

    /// Replays a normalized candidate; keeps it when it breaks the same property.
    fn replay_candidate(&mut self, candidate: Vec<Action>) -> bool {
        if self.replays >= self.replays_max {
            self.exhausted = true;
            return false;
        }
        self.replays += 1;
        let Ok(outcome) =
            run::run_actions(self.recipe, &self.options, self.seed, candidate.clone())
        else {
            return false;
        };
        let mut taken = candidate;
        taken.truncate(outcome.end.steps as usize);
        if !self.fails_alike(&outcome, &taken) {
            return false;
        }
        self.best = taken;
        self.best_text = outcome.text.expect("run_actions records");
        true
    }

    /// Whether the outcome breaks the property as the original did.
    fn fails_alike(&self, outcome: &Outcome, taken: &[Action]) -> bool {
        if !outcome
            .end
            .violations
            .iter()
            .any(|v| v.property == self.property)
        {
            return false;
        }
        if !self.eventually || outcome.end.quiescent {
            return true;
        }
        let liveness = taken
            .iter()
            .position(|a| *a == Action::StopFaults)
            .map_or(0, |i| taken.len() - i - 1);
        self.bound_ok && liveness >= self.options.liveness_steps_max as usize
    }

    /// Drops the actions not enabled in their turn and cuts `Advance` to what time may
    /// advance by; completes the liveness phase for a liveness property.
    fn normalize(&self, candidate: &[Action]) -> Vec<Action> {
        let (mut world, _) = self.recipe.world(&self.options, self.seed);
        let mut out = Vec::with_capacity(candidate.len());
        for a in candidate {
            let a = match a {
                Action::Advance { ms } => match world.advance_limit_ms() {
                    Some(limit) => Action::Advance {
                        ms: (*ms).min(limit),
                    },
                    None => continue,
                },
                other => other.clone(),
            };
            if world.step(&a).is_ok() {
                out.push(a);
            }
        }
        if self.eventually {
            self.complete(&mut world, &mut out);
        }
        out
    }

    /// Ends faults if they are still on, then takes the first enabled action by a fixed
    /// priority until nothing is enabled or the liveness bound is reached.
    fn complete(&self, world: &mut World<R>, out: &mut Vec<Action>) {
        if world.faults_on() {
            world
                .step(&Action::StopFaults)
                .expect("enabled while faults are on");
            out.push(Action::StopFaults);
        }
        let stop = out.iter().position(|a| *a == Action::StopFaults);
        let taken = stop.map_or(0, |i| out.len() - i - 1);
        let bound = self.options.liveness_steps_max as usize;
        for _ in taken..bound {
            let Some(a) = first_by_priority(&world.enabled_actions()) else {
                return;
            };
            world.step(&a).expect("an enabled action");
            out.push(a);
        }
    }

    /// Tries the cluster one process or task smaller in each dimension (tasks, clients,
    /// workers, masters), again and again while the failure stays: the actions are carried
    /// over by process name (those of a process that is gone are dropped), a session's expiry
    /// by whose session it was and which of its sessions. A smaller cluster is smaller
    /// whatever the steps, so this comes first.
    fn shrink_shape(&mut self) {
        for dim in [3, 2, 1, 0] {
            while !self.exhausted {
                let Some(options) = smaller_shape(self.recipe, &self.options, self.seed, dim)
                else {
                    break;
                };
                let candidate = self.carry_over(&options);
                let old = std::mem::replace(&mut self.options, options);
                let candidate = self.normalize(&candidate);
                if self.replay_candidate(candidate) {
                    continue;
                }
                self.options = old;
                break;
            }
        }
    }

    /// The best actions rewritten for a world of other `options`: processes by name,
    /// expiries by (process name, which of its sessions), both worlds stepped side by side
    /// (an action the smaller world does not allow is dropped, as normalizing would).
    fn carry_over(&self, options: &Options) -> Vec<Action> {
        let start = |o: &Options| self.recipe.world(o, self.seed).0;
        let (mut old, mut new) = (start(&self.options), start(options));
        let name = |w: &World<R>, p: usize| w.processes()[p].name.to_string();
        let index = |w: &World<R>, n: &str| w.processes().iter().position(|p| *p.name == *n);
        let (mut old_owners, mut new_owners) = (Sessions::default(), Sessions::default());
        old_owners.note(&old);
        new_owners.note(&new);
        let mut out = Vec::with_capacity(self.best.len());
        for a in &self.best {
            let carried = match a {
                Action::Expire { session } => old_owners.owner(*session).and_then(|(n, k)| {
                    let session = new_owners.nth(&n, k)?;
                    Some(Action::Expire { session })
                }),
                other => match other.process() {
                    Some(p) => index(&new, &name(&old, p)).map(|q| with_process(other, q)),
                    None => Some(other.clone()),
                },
            };
            let _ = old.step(a);
            old_owners.note(&old);
            if let Some(c) = carried {
                if new.step(&c).is_ok() {
                    new_owners.note(&new);
                    out.push(c);
                }
            }
        }
        out
    }

    /// Removes each fault in turn, from the last; what depended on it drops out when the
    /// candidate is normalized.
    fn drop_faults(&mut self) {
        let mut i = self.best.len();
        while i > 0 && !self.exhausted {
            i -= 1;
            if i < self.best.len() && self.best[i].is_fault() {
                let mut c = self.best.clone();
                c.remove(i);
                self.try_candidate(&c);
            }
        }
    }

    /// For each process, removes its actions from some point on (all of them first, then
    /// the last half, quarter, ...): a process that stops taking steps is often irrelevant.
    fn freeze_processes(&mut self) {
        let processes = self
            .best
            .iter()
            .filter_map(Action::process)
            .max()
            .map_or(0, |p| p + 1);
        for p in 0..processes {
            let mut keep = 0usize;
            loop {
                let mine: Vec<usize> = (0..self.best.len())
                    .filter(|&i| self.best[i].process() == Some(p))
                    .collect();
                if keep >= mine.len() || self.exhausted {
                    break;
                }
                let cut: Vec<usize> = mine[keep..].to_vec();
                let c: Vec<Action> = (0..self.best.len())
                    .filter(|i| cut.binary_search(i).is_err())
                    .map(|i| self.best[i].clone())
                    .collect();
                if self.try_candidate(&c) {
                    break;
                }
                keep += (mine.len() - keep).div_ceil(2);
            }
        }
    }

    /// Moves `StopFaults` to just after the last fault before it.
    fn stop_faults_early(&mut self) {
        let Some(stop) = self.best.iter().position(|a| *a == Action::StopFaults) else {
            return;
        };
        let at = self.best[..stop]
            .iter()
            .rposition(Action::is_fault)
            .map_or(0, |i| i + 1);
        if at < stop {
            let mut c = self.best.clone();
            c.remove(stop);
            c.insert(at, Action::StopFaults);
            self.try_candidate(&c);
        }
    }

    /// Delta debugging: removes chunks of `len / n` actions, doubling `n` when no chunk can go.
    fn ddmin(&mut self) {
        let mut n = 2usize;
        while self.best.len() >= 2 && !self.exhausted {
            let chunk = self.best.len().div_ceil(n);
            let removed = self.remove_chunks(chunk);
            if removed {
                n = (n - 1).max(2);
            } else if chunk == 1 {
                return;
            } else {
                n = (n * 2).min(self.best.len());
            }
        }
    }

    /// One sweep removing chunks of this size, from the end (later actions depend on
    /// earlier ones, so the end goes more often); whether any went.
    fn remove_chunks(&mut self, chunk: usize) -> bool {
        let mut removed = false;
        let mut end = self.best.len();
        while end > 0 && !self.exhausted {
            let start = end.saturating_sub(chunk);
            if end <= self.best.len() {
                let mut c = self.best[..start].to_vec();
                c.extend_from_slice(&self.best[end..]);
                removed |= self.try_candidate(&c);
            }
            end = start;
        }
        removed
    }

    /// Merges each `Advance` into the next one, else halves it.
    fn shorten_time(&mut self) {
        let mut i = self.best.len();
        while i > 0 && !self.exhausted {
            i -= 1;
            let Some(Action::Advance { ms }) = self.best.get(i).cloned() else {
                continue;
            };
            if let Some(Action::Advance { ms: next }) = self.best.get(i + 1).cloned() {
                let mut c = self.best.clone();
                c.splice(i..i + 2, [Action::Advance { ms: ms + next }]);
                if self.try_candidate(&c) {
                    continue;
                }
            }
            if ms > 1 {
                let mut c = self.best.clone();
                c[i] = Action::Advance { ms: ms / 2 };
                self.try_candidate(&c);
            }
        }
    }
}

/// The liveness completion's choice: a repair, else a delivery, choice or expiry, else a
/// timer, else the passing of time (as far as it may go).
fn first_by_priority(enabled: &[Action]) -> Option<Action> {
    let rank = |a: &Action| match a {
        Action::Restart { .. } | Action::Reconnect { .. } => 0,
        Action::ToServer { .. }
        | Action::ToClient { .. }
        | Action::Choose { .. }
        | Action::Expire { .. } => 1,
        Action::Timer { .. } => 2,
        _ => 3,
    };
    enabled
        .iter()
        .filter(|a| !a.is_fault() && **a != Action::StopFaults)
        .min_by_key(|a| rank(a))
        .cloned()
}

/// The sessions each process has had, in order: a session is named by its process and
/// which of that process's sessions it was, so it can be found again in another world.
#[derive(Default)]
struct Sessions {
    by_process: BTreeMap<String, Vec<SessionId>>,
}

impl Sessions {
    fn note<R: Role>(&mut self, world: &World<R>) {
        for p in world.processes() {
            if let Some(s) = p.session() {
                let list = self.by_process.entry(p.name.to_string()).or_default();
                if list.last() != Some(&s) {
                    list.push(s);
                }
            }
        }
    }

    fn owner(&self, session: SessionId) -> Option<(String, usize)> {
        self.by_process.iter().find_map(|(n, list)| {
            list.iter()
                .position(|s| *s == session)
                .map(|k| (n.clone(), k))
        })
    }

    fn nth(&self, name: &str, k: usize) -> Option<SessionId> {
        self.by_process.get(name)?.get(k).copied()
    }
}

/// The same action about another process.
fn with_process(a: &Action, process: usize) -> Action {
    let mut a = a.clone();
    match &mut a {
        Action::ToServer { process: p }
        | Action::ToClient { process: p }
        | Action::Timer { process: p, .. }
        | Action::Choose { process: p, .. }
        | Action::Crash { process: p }
        | Action::Kill { process: p }
        | Action::Restart { process: p }
        | Action::Disconnect { process: p }
        | Action::Reconnect { process: p }
        | Action::Stall { process: p, .. } => *p = process,
        Action::Expire { .. }
        | Action::StopFaults
        | Action::Advance { .. }
        | Action::RestartServer => {}
    }
    a
}

/// The shape as the recipe reads it: for each dimension (masters, workers, clients, tasks),
/// the smallest value that gives the same processes as the options do (1 for a dimension
/// the recipe ignores).
fn effective_shape<R: Role>(recipe: &Recipe<R>, options: &Options, seed: u64) -> [u32; 4] {
    [0, 1, 2, 3].map(|dim| effective(recipe, options, seed, dim))
}

/// One dimension of [`effective_shape`].
fn effective<R: Role>(recipe: &Recipe<R>, options: &Options, seed: u64, dim: usize) -> u32 {
    let same = recipe.processes(options, seed);
    (1..=64)
        .find(|&v| recipe.processes(&with_dim(options, dim, v), seed) == same)
        .unwrap_or(1)
}

/// The options with one shape dimension set.
fn with_dim(options: &Options, dim: usize, value: u32) -> Options {
    let mut o = options.clone();
    let field = match dim {
        0 => &mut o.shape.masters,
        1 => &mut o.shape.workers,
        2 => &mut o.shape.clients,
        _ => &mut o.shape.tasks,
    };
    *field = Some(value);
    o
}

/// The options one smaller in a dimension, if it can be.
fn smaller_shape<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seed: u64,
    dim: usize,
) -> Option<Options> {
    let now = effective(recipe, options, seed, dim);
    (now > 1).then(|| with_dim(options, dim, now - 1))
}
