//! Running a recipe: seeded simulation (safety phase, then liveness phase) and replay of a
//! recorded trace. Both go through one private loop, so a replay takes exactly the steps, checks and
//! verdict the recording took and writes the same bytes.
//!
//! ```
//! use zksim_sim::options::Options;
//! use zksim_sim::recipes;
//! use zksim_sim::run::{simulate, replay};
//!
//! let recipe = recipes::find("election").unwrap();
//! let outcome = simulate(&recipe, &Options::default(), 7, false, true).unwrap();
//! assert!(outcome.end.violations.is_empty());
//! let text = outcome.text.unwrap();
//! assert_eq!(replay(&text).unwrap(), text);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use zksim_model::children::ChildOrder;
use zksim_model::hash::{fnv_str, mix};
use zksim_model::op::{EventType, Request, WatchedEvent};
use zksim_model::recipes::BuiltinRole;
use zksim_model::role::{Claim, Role};
use zksim_model::server::ToClient;

use crate::action::{Action, ProcessId};
use crate::coverage::{self, RunCoverage};
use crate::error::{
    Difference, Divergence, FieldDifference, ReplayError, Rerun, RunError, WrongRecipe,
};
use crate::event::Event;
use crate::options::Options;
use crate::property::Check;
use crate::recipes::{self, Recipe};
use crate::trace::{self, End, Header, Policy, StepLine, Violation};
use crate::world::World;

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The verdict and counts.
    pub end: End,
    /// The trace text, when recording.
    pub text: Option<String>,
    /// The protocol points it reached and the faults right after them (empty unless asked
    /// for: [`simulate_covered`]).
    pub coverage: RunCoverage,
}

/// Where a run's actions come from.
pub(crate) trait Source<R = BuiltinRole> {
    fn next(&mut self, world: &World<R>) -> Result<Option<Action>, RunError>;

    /// Sees the events of each step (the start's too) on the world after it; a scripted
    /// source watches them for its triggers.
    fn observe(&mut self, _world: &World<R>, _events: &[Event]) {}

    /// Who chooses the actions, for the trace's header: `Some` when they follow from the
    /// seed and options alone.
    fn policy(&self) -> Option<Policy> {
        None
    }
}

/// The simulator's policy: in the safety phase, a fault with probability
/// `fault_per_mille / 1000` when one is enabled, else a repair with probability
/// `repair_per_mille / 1000` when one is enabled, else a uniformly chosen other action (time
/// advancing by a uniform amount up to its limit); after `steps_max` steps, faults stop;
/// in the liveness phase, repairs first, then other actions, until nothing is enabled or
/// `liveness_steps_max` steps have passed. Faults may also be placed at protocol points (right
/// after a process's write was handled, or a watch notification queued to it) and aimed at the
/// leader, each with its own knob (see [`Options`]).
pub(crate) struct Random {
    rng: ChaCha8Rng,
    safety_left: u32,
    liveness_left: u32,
    /// The enabled actions of the current step: one buffer for the whole run, and the pools
    /// below are predicates over it rather than vectors (this is the simulator's hot path).
    enabled: Vec<Action>,
    /// Writes sent and not yet handled, by (process, xid), each with its protocol point's
    /// site and path (only with `write_fault_per_mille`).
    writes: BTreeMap<(ProcessId, i32), (u64, u64)>,
    /// The process whose write the server handled in the last step, the site (a protocol
    /// point) and its path (as `fnv_str` of the path without its sequence number).
    after_write: Option<(ProcessId, u64, u64)>,
    /// The run's seed, which decides the sites that are active.
    seed: u64,
    /// One protocol point in this many is active in the run.
    sites_one_in: u64,
    /// Whether faults are placed after writes (`write_fault_per_mille` above 0).
    watch_writes: bool,
    /// Whether faults are placed after watch notifications (`notify_fault_per_mille` above
    /// 0), and the length of each process's link from the server after the last step.
    watch_notices: bool,
    notices: Vec<usize>,
    /// The process the server queued a watch notification to in the last step, at an
    /// active site (a protocol point), and the notification's path as for writes.
    after_notice: Option<(ProcessId, u64)>,
    /// Whether faults aim at the leader (`leader_fault_per_mille` above 0), and the leader:
    /// the process that last claimed to lead, until it crashes or its session expires.
    aim_at_leader: bool,
    leader: Option<ProcessId>,
    /// A process cut off at a protocol point and kept from reconnecting until its session
    /// has expired (a long partition: what makes a lost reply meet an expiry).
    held: Option<ProcessId>,
    /// With time abstract: the session of a process faulted at a protocol point, which then
    /// expires within a few steps (each step with chance 1/3) rather than as a rare fault:
    /// a session's timeout running out while the others take a few steps. With stalls on
    /// (timed), the session whose deadline a stall may wait for.
    doomed: Option<zksim_model::stat::SessionId>,
    /// The path (as `fnv_str` of it without its sequence number) of the protocol point the
    /// doomed session's process was cut off at: a write's or a notification's.
    doomed_path: u64,
    /// The PCT schedule (`pct_depth` above 0), drawn at the first step it decides (when the
    /// world's processes are known).
    pct: Option<Pct>,
    pct_depth: u32,
    pct_steps: u32,
    /// Whether stalls are placed (`stalls_max` above 0, time timed).
    stalls: bool,
}

/// A PCT schedule ([`Options::pct_depth`]): a priority per process (and one, the last, for
/// steps of no process: time advancing, an orphan session's expiry), and the safety steps at
/// which the process that just stepped drops below everyone.
struct Pct {
    priority: Vec<i64>,
    /// Change points, as counts of steps taken by priority, latest first (popped in order).
    change_at: Vec<u32>,
    /// Steps taken by priority so far.
    taken: u32,
    /// The priority the next demoted process gets (below every other so far).
    low: i64,
}

impl Pct {
    /// A schedule for `processes` processes drawn from `seed` by a generator of its own, so
    /// the run's other draws are those of its seed.
    fn new(seed: u64, processes: usize, depth: u32, steps: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5043_5400_0000_0000);
        let slots = processes + 1;
        // Initial priorities depth..depth+slots, in a random order (Fisher-Yates).
        let mut priority: Vec<i64> = (0..slots).map(|i| i64::from(depth) + i as i64).collect();
        for i in (1..slots).rev() {
            let j = rng.gen_range(0..=i);
            priority.swap(i, j);
        }
        let mut change_at: Vec<u32> = (1..depth).map(|_| rng.gen_range(0..steps.max(1))).collect();
        change_at.sort_unstable_by(|a, b| b.cmp(a));
        Pct {
            priority,
            change_at,
            taken: 0,
            low: i64::from(depth) - 1,
        }
    }

    /// The priority slot of an action: its process, or the last slot.
    fn slot(&self, a: &Action) -> usize {
        let last = self.priority.len() - 1;
        a.process().map_or(last, |p| p.min(last))
    }

    /// After a step of `slot` taken by priority: at a change point it drops below all.
    fn stepped(&mut self, slot: usize) {
        while self.change_at.last() == Some(&self.taken) {
            self.change_at.pop();
            self.priority[slot] = self.low;
            self.low -= 1;
        }
        self.taken += 1;
    }
}

fn is_other(a: &Action) -> bool {
    !a.is_fault() && *a != Action::StopFaults
}

fn is_other_repair(a: &Action) -> bool {
    is_other(a) && a.is_repair()
}

fn is_other_rest(a: &Action) -> bool {
    is_other(a) && !a.is_repair()
}

fn any(_: &Action) -> bool {
    true
}

impl<R: Role> Source<R> for Random {
    fn observe(&mut self, world: &World<R>, events: &[Event]) {
        if self.watch_notices {
            self.observe_notices(world, events);
        }
        if self.aim_at_leader {
            for e in events {
                match e {
                    Event::Noted { process, claim, .. } if *claim == Claim::Leads => {
                        self.leader = Some(*process);
                    }
                    Event::Crashed { process }
                    | Event::Reconnected {
                        process,
                        expired: true,
                    } if self.leader == Some(*process) => self.leader = None,
                    _ => {}
                }
            }
        }
        if !self.watch_writes {
            return;
        }
        for e in events {
            match e {
                Event::Sent {
                    process,
                    xid,
                    request,
                } => {
                    if let Some((site, path)) = write_site(*process, request) {
                        self.writes.insert((*process, *xid), (site, path));
                    }
                }
                Event::Handled { process, xid, .. } => {
                    if let Some((site, path)) = self.writes.remove(&(*process, *xid)) {
                        self.after_write = Some((*process, site, path));
                    }
                }
                Event::Lost { process, xid, .. } => {
                    self.writes.remove(&(*process, *xid));
                }
                _ => {}
            }
        }
    }

    fn next(&mut self, world: &World<R>) -> Result<Option<Action>, RunError> {
        world.enabled_actions_into(&mut self.enabled);
        if let Some(p) = self.held {
            let live = world.processes()[p]
                .session()
                .is_some_and(|s| world.server().sessions().contains_key(&s));
            if live && world.faults_on() {
                self.enabled
                    .retain(|a| *a != Action::Reconnect { process: p });
            } else {
                self.held = None;
            }
        }
        if let Some(session) = self.doomed {
            let expire = Action::Expire { session };
            if !world.faults_on() || !world.server().sessions().contains_key(&session) {
                self.doomed = None;
            } else if self.safety_left > 0
                && self.enabled.contains(&expire)
                && self.rng.gen_ratio(1, 3)
            {
                self.doomed = None;
                self.safety_left -= 1;
                return Ok(Some(expire));
            }
        }
        if let Some(stall) = self.stall_until_doom(world) {
            self.after_write = None;
            self.doomed = None;
            self.safety_left -= 1;
            return Ok(Some(stall));
        }
        if let Some((p, site, path)) = self.after_write.take() {
            // As BUGGIFY does: a site is active for the whole run with chance
            // 1/`sites_one_in` (by the seed), and only an active site fires, so a run that
            // faults after one kind of write tends to fault there again.
            let active = mix(self.seed ^ site) % self.sites_one_in == 0;
            let per_mille = if active {
                world.options().write_fault_per_mille.min(1000)
            } else {
                0
            };
            if world.faults_on() && self.safety_left > 0 {
                if let Some(chosen) = self.fault_of(world, p, per_mille) {
                    self.safety_left -= 1;
                    if chosen == (Action::Disconnect { process: p }) && self.rng.gen_ratio(1, 2) {
                        self.held = Some(p);
                    }
                    self.doom(world, p, &chosen, path);
                    return Ok(Some(chosen));
                }
            }
        }
        if let Some((p, path)) = self.after_notice.take() {
            // The site was active (`observe_notices` keeps only those).
            let per_mille = world.options().notify_fault_per_mille.min(1000);
            if world.faults_on() && self.safety_left > 0 {
                if let Some(chosen) = self.fault_of(world, p, per_mille) {
                    self.safety_left -= 1;
                    self.doom(world, p, &chosen, path);
                    return Ok(Some(chosen));
                }
            }
        }
        let count = |pool: fn(&Action) -> bool| self.enabled.iter().filter(|a| pool(a)).count();
        if world.faults_on() {
            let others = count(is_other);
            let faults = count(Action::is_fault);
            if self.safety_left == 0 || (others == 0 && faults == 0) {
                return Ok(Some(Action::StopFaults));
            }
            self.safety_left -= 1;
            let per_mille = world.options().fault_per_mille.min(1000);
            let pool: fn(&Action) -> bool = if faults > 0
                && (others == 0 || self.rng.gen_ratio(per_mille, 1000))
            {
                if let Some(fault) = self.leader_fault(world) {
                    return Ok(Some(fault));
                }
                Action::is_fault
            } else {
                let repairs = count(is_other_repair);
                let repair_per_mille = world.options().repair_per_mille.min(1000);
                if repairs > 0 && (repairs == others || self.rng.gen_ratio(repair_per_mille, 1000))
                {
                    is_other_repair
                } else if self.pct_depth > 0 {
                    return Ok(Some(self.pick_by_priority(world.processes().len())));
                } else {
                    is_other_rest
                }
            };
            return Ok(Some(self.pick(pool)));
        }
        if self.liveness_left == 0 || self.enabled.is_empty() {
            return Ok(None);
        }
        self.liveness_left -= 1;
        let pool = if count(Action::is_repair) == 0 {
            any
        } else {
            Action::is_repair
        };
        Ok(Some(self.pick(pool)))
    }

    fn policy(&self) -> Option<Policy> {
        Some(Policy::Simulator)
    }
}

impl Random {
    /// The simulator's policy for one seed under these options (as `simulate` draws it).
    pub(crate) fn new(seed: u64, options: &Options) -> Self {
        Random {
            rng: ChaCha8Rng::seed_from_u64(seed),
            safety_left: options.steps_max,
            liveness_left: options.liveness_steps_max,
            enabled: Vec::new(),
            writes: BTreeMap::new(),
            after_write: None,
            seed,
            sites_one_in: u64::from(options.sites_one_in.max(1)),
            watch_writes: options.write_fault_per_mille > 0,
            watch_notices: options.notify_fault_per_mille > 0,
            notices: Vec::new(),
            after_notice: None,
            aim_at_leader: options.leader_fault_per_mille > 0,
            leader: None,
            held: None,
            doomed: None,
            doomed_path: 0,
            pct: None,
            pct_depth: options.pct_depth,
            pct_steps: options.steps_max,
            stalls: options.stalls_max > 0 && options.time == crate::options::TimeMode::Timed,
        }
    }

    /// After a fault of `p` at a protocol point that cut it off (a disconnect, crash or
    /// kill): its session is doomed. With time abstract it then expires within a few steps;
    /// with stalls on (timed), the next write another process makes to the path `p` was cut
    /// off at stalls that process until the session's deadline
    /// ([`Random::stall_until_doom`]).
    fn doom<R: Role>(&mut self, world: &World<R>, p: ProcessId, fault: &Action, path: u64) {
        let abstract_time = world.options().time == crate::options::TimeMode::Abstract;
        if !(abstract_time || self.stalls)
            || fault.process() != Some(p)
            || matches!(fault, Action::Stall { .. })
        {
            return;
        }
        self.doomed = world.processes()[p].session();
        self.doomed_path = path;
    }

    /// With stalls on, a session doomed and another process's write to the same path (no
    /// sequence number) just handled: a stall of that process until the doomed session's
    /// deadline, so the session expires between the write and the handling of its reply
    /// (timed mode's counterpart of a doomed session expiring within a few steps).
    fn stall_until_doom<R: Role>(&mut self, world: &World<R>) -> Option<Action> {
        let (session, (q, _, path)) = (self.doomed?, self.after_write?);
        if !self.stalls || !world.faults_on() || self.safety_left == 0 {
            return None;
        }
        let now = world.now_ms();
        let deadline = world.server().sessions().get(&session)?.deadline_ms;
        let stall = Action::Stall {
            process: q,
            ms: deadline.checked_sub(now).filter(|&ms| ms > 0)?,
        };
        // The write must touch the path the doomed process was cut off at: that is where its
        // write and the other's meet, and what an expiry's deletions race. Stalling the first
        // such write, and no other, found leader-demoted 6 times as often in plain runs
        // (12 seeds of 0..10000 with `--stalls-max 2`, against 2 stalling any write at
        // chance 1/3).
        let other = world.processes()[q].session() != Some(session);
        (other && path == self.doomed_path && world.is_enabled(&stall)).then_some(stall)
    }

    /// With `leader_fault_per_mille`, and its chance: one of the leader's enabled faults,
    /// uniformly.
    fn leader_fault<R: Role>(&mut self, world: &World<R>) -> Option<Action> {
        let leader = self.leader.filter(|_| self.aim_at_leader)?;
        self.fault_of(
            world,
            leader,
            world.options().leader_fault_per_mille.min(1000),
        )
    }

    /// One of `p`'s enabled faults (a disconnect, crash or kill), uniformly, with chance
    /// `per_mille / 1000`; `None` (and nothing drawn) when it has none. With time abstract,
    /// an enabled expiry of a silent session counts too: a session a crashed or cut-off
    /// process left may expire at any moment, this one included. With stalls on (timed),
    /// so does a stall of `p` until the next silent session's deadline, its timed
    /// counterpart.
    fn fault_of<R: Role>(
        &mut self,
        world: &World<R>,
        p: ProcessId,
        per_mille: u32,
    ) -> Option<Action> {
        let of_p = |a: &&Action| {
            matches!(a, Action::Disconnect { process } | Action::Crash { process } | Action::Kill { process } if *process == p)
                || matches!(a, Action::Expire { .. })
        };
        let stall = self
            .stalls
            .then(|| world.next_silent_deadline_ms())
            .flatten()
            .map(|d| Action::Stall {
                process: p,
                ms: d - world.now_ms(),
            })
            .filter(|a| world.is_enabled(a));
        let n = self.enabled.iter().filter(of_p).count() + usize::from(stall.is_some());
        if n == 0 || !self.rng.gen_ratio(per_mille, 1000) {
            return None;
        }
        let k = self.rng.gen_range(0..n);
        self.enabled.iter().filter(of_p).nth(k).cloned().or(stall)
    }

    /// Notes a watch notification the last step queued to a process, at an active site (a
    /// quarter of the sites, by the seed, as for writes): one of them, uniformly, when the
    /// step notified several (a session's expiry deleting a node many watch). Only a step
    /// that committed a change or reconnected a client queues notifications, at the end of
    /// a link, so only those steps look, and only at the frames past each link's length
    /// after the step before; the others just note the lengths (this runs every step of
    /// every run that has `notify_fault_per_mille` above 0).
    fn observe_notices<R: Role>(&mut self, world: &World<R>, events: &[Event]) {
        let processes = world.processes();
        self.notices.resize(processes.len(), 0);
        let queues = events
            .iter()
            .any(|e| matches!(e, Event::Changed { .. } | Event::Reconnected { .. }));
        let mut chosen = None;
        let mut active = 0u32;
        for (p, process) in processes.iter().enumerate() {
            let before = std::mem::replace(&mut self.notices[p], process.to_client().len());
            if !queues {
                continue;
            }
            let last = process
                .to_client()
                .skip(before)
                .filter_map(|frame| match frame {
                    ToClient::Event { event } if event.kind != EventType::None => Some(event),
                    _ => None,
                })
                .last();
            let Some(event) = last else {
                continue;
            };
            let (site, path) = notice_site(p, event);
            if mix(self.seed ^ site) % self.sites_one_in != 0 {
                continue;
            }
            active += 1;
            if active == 1 || self.rng.gen_ratio(1, active) {
                chosen = Some((p, path));
            }
        }
        self.after_notice = chosen;
    }

    /// PCT's step: of the enabled steps that are neither faults nor repairs, one of the
    /// highest-priority slot's, uniformly.
    fn pick_by_priority(&mut self, processes: usize) -> Action {
        let (seed, depth, steps) = (self.seed, self.pct_depth, self.pct_steps);
        let pct = self
            .pct
            .get_or_insert_with(|| Pct::new(seed, processes, depth, steps));
        // Priorities are distinct, so the top slot is one.
        let slot = self
            .enabled
            .iter()
            .filter(|a| is_other_rest(a))
            .map(|a| pct.slot(a))
            .max_by_key(|&s| pct.priority[s])
            .expect("a non-empty pool");
        pct.stepped(slot);
        let of_top = |a: &Action| is_other_rest(a) && pct.slot(a) == slot;
        let n = self.enabled.iter().filter(|a| of_top(a)).count();
        let k = self.rng.gen_range(0..n);
        let chosen = self
            .enabled
            .iter()
            .filter(|a| of_top(a))
            .nth(k)
            .expect("a step of the top slot")
            .clone();
        match chosen {
            Action::Advance { ms } => Action::Advance {
                ms: self.rng.gen_range(1..=ms),
            },
            other => other,
        }
    }

    /// A uniformly chosen enabled action in the pool (never empty here), drawn exactly as
    /// `SliceRandom::choose` draws from a slice of the pool, so seeds keep their runs.
    fn pick(&mut self, pool: fn(&Action) -> bool) -> Action {
        let n = self.enabled.iter().filter(|a| pool(a)).count();
        let n = u32::try_from(n).expect("fewer than 2^32 enabled actions");
        let k = self.rng.gen_range(0..n) as usize;
        let chosen = self
            .enabled
            .iter()
            .filter(|a| pool(a))
            .nth(k)
            .expect("a non-empty pool")
            .clone();
        match chosen {
            Action::Advance { ms } => Action::Advance {
                ms: self.rng.gen_range(1..=ms),
            },
            other => other,
        }
    }
}

/// The protocol point a write is, as a hash: the process, the operation and the path without
/// its sequence number (so `/tasks/task-c1.4-1-0000000003` and its siblings are one site),
/// and that path's own hash; `None` for a read. A multi is one site by its first operation's
/// path. (The sites [`crate::coverage`] counts.)
fn write_site(process: ProcessId, request: &Request) -> Option<(u64, u64)> {
    let (op, stem) = coverage::write_point(request)?;
    let path = fnv_str(stem);
    Some((
        mix(fnv_str(op) ^ path.rotate_left(17) ^ process as u64),
        path,
    ))
}

/// The protocol point a watch notification is, as a hash: the process, the event type and
/// the path without its trailing sequence number; and that path's own hash (as for writes).
fn notice_site(process: ProcessId, event: &WatchedEvent) -> (u64, u64) {
    let stem = event.path.trim_end_matches(|c: char| c.is_ascii_digit());
    let path = fnv_str(stem);
    let site = mix((event.kind.code() as u64) << 40 ^ path.rotate_left(23) ^ (process as u64) << 8);
    (site, path)
}

/// The actions of a recorded trace, in order.
struct Recorded {
    actions: std::vec::IntoIter<Action>,
    /// Who chose them, as the recorded header says.
    policy: Option<Policy>,
}

impl<R: Role> Source<R> for Recorded {
    fn next(&mut self, _: &World<R>) -> Result<Option<Action>, RunError> {
        Ok(self.actions.next())
    }

    fn policy(&self) -> Option<Policy> {
        self.policy
    }
}

/// Simulates one seed. With `swarm`, the fields of [`Options::SWARM_FIELDS`] are drawn from
/// the seed instead ([`Options::swarmed`]). Its [`Outcome::coverage`] is left empty (see
/// [`simulate_covered`]).
pub fn simulate<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seed: u64,
    swarm: bool,
    record: bool,
) -> Result<Outcome, RunError> {
    simulate_keeping(recipe, options, seed, swarm, record, false)
}

/// The first seed of `seeds` whose run ([`simulate`], without its trace) violates a
/// property, with its outcome; `None` when every run holds.
pub fn first_failure<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seeds: std::ops::Range<u64>,
    swarm: bool,
) -> Result<Option<Outcome>, RunError> {
    for seed in seeds {
        let outcome = simulate(recipe, options, seed, swarm, false)?;
        if !outcome.end.violations.is_empty() {
            return Ok(Some(outcome));
        }
    }
    Ok(None)
}

/// [`simulate`] (without the trace), keeping the run's [`Outcome::coverage`]: the protocol
/// points it reached and the faults right after them ([`crate::coverage`]). Following every
/// write costs a few per cent of a run's time, so `simulate` does not.
pub fn simulate_covered<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seed: u64,
    swarm: bool,
) -> Result<Outcome, RunError> {
    simulate_keeping(recipe, options, seed, swarm, false, true)
}

fn simulate_keeping<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seed: u64,
    swarm: bool,
    record: bool,
    cover: bool,
) -> Result<Outcome, RunError> {
    let mut options = if swarm {
        options.swarmed(seed)
    } else {
        options.clone()
    };
    if let ChildOrder::Shuffled { .. } = options.child_order {
        // A shuffled order follows the run's seed (the header records it).
        options.child_order = ChildOrder::Shuffled { seed };
    }
    let mut source = Random::new(seed, &options);
    run(recipe, options, seed, swarm, &mut source, record, cover)
}

/// Runs a given list of actions (an explorer's counterexample) and records it as a trace,
/// checking the properties as a simulation does.
pub fn run_actions<R: Role>(
    recipe: &Recipe<R>,
    options: &Options,
    seed: u64,
    actions: Vec<Action>,
) -> Result<Outcome, RunError> {
    let mut source = Recorded {
        actions: actions.into_iter(),
        policy: None,
    };
    run(
        recipe,
        options.clone(),
        seed,
        false,
        &mut source,
        true,
        false,
    )
}

/// Replays a trace: re-executes its actions and checks that every line comes out the same.
/// A trace the simulator drew ([`Policy::Simulator`] in its header) is drawn again from its
/// seed and options too, so a header edited to another seed, rate, budget or phase length
/// fails even where the recorded actions still replay. Returns the replayed text (equal to
/// the input's lines) or an error naming the first line that differs.
pub fn replay(text: &str) -> Result<String, ReplayError> {
    let t = trace::parse(text)?;
    let recipe = recipes::find(&t.header.recipe)?;
    replay_with(&recipe, text)
}

/// [`replay`] for a recipe that is not built in (a recipe of your own roles): the trace's
/// header must name it.
pub fn replay_with<R: Role>(recipe: &Recipe<R>, text: &str) -> Result<String, ReplayError> {
    let t = trace::parse(text)?;
    let h = &t.header;
    if h.recipe != recipe.name {
        return Err(WrongRecipe {
            trace: h.recipe.clone(),
            recipe: recipe.name.to_string(),
        }
        .into());
    }
    let actions: Vec<Action> = t
        .steps
        .iter()
        .skip(1)
        .filter_map(|s| s.action.clone())
        .collect();
    // The processes first: an edited shape or name would otherwise show as a step that
    // cannot be taken.
    let processes: Vec<String> = recipe
        .processes(&h.options, h.seed)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if processes != h.processes {
        return Err(ReplayError::Processes {
            recorded: h.processes.clone(),
            recipe: recipe.name.to_string(),
            runs: processes,
        });
    }
    let mut source = Recorded {
        actions: actions.into_iter(),
        policy: h.policy,
    };
    let outcome = run(
        recipe,
        h.options.clone(),
        h.seed,
        h.swarm,
        &mut source,
        true,
        false,
    )
    .map_err(ReplayError::CannotTake)?;
    let replayed = outcome.text.expect("recorded");
    same_lines(text, &replayed, Rerun::Replayed).map_err(ReplayError::Diverged)?;
    if h.policy == Some(Policy::Simulator) {
        let mut drawn = Random::new(h.seed, &h.options);
        let outcome = run(
            recipe,
            h.options.clone(),
            h.seed,
            h.swarm,
            &mut drawn,
            true,
            false,
        )?;
        same_lines(text, &outcome.text.expect("recorded"), Rerun::Drawn).map_err(|divergence| {
            ReplayError::Redrawn {
                seed: h.seed,
                divergence,
            }
        })?;
    }
    Ok(replayed)
}

/// Whether `other` has the lines of the recorded `text` (blank lines aside); if not, the
/// first line that differs (from 1) and both versions of it, the other from `rerun`. A
/// header that differs is told field by field.
fn same_lines(text: &str, other: &str, rerun: Rerun) -> Result<(), Divergence> {
    let recorded: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let others: Vec<&str> = other.lines().collect();
    for (i, (a, b)) in recorded.iter().zip(&others).enumerate() {
        if a != b {
            let fields = if i == 0 { header_fields(a, b) } else { None };
            return Err(Divergence {
                line: i + 1,
                step: step_of(a),
                difference: match fields {
                    Some(f) => Difference::Header(f),
                    None => Difference::Line {
                        recorded: a.to_string(),
                        other: b.to_string(),
                        rerun,
                    },
                },
            });
        }
    }
    if recorded.len() != others.len() {
        let line = recorded.len().min(others.len()) + 1;
        return Err(Divergence {
            line,
            step: recorded.get(line - 1).and_then(|l| step_of(l)),
            difference: Difference::Length {
                recorded: recorded.len(),
                other: others.len(),
                rerun,
            },
        });
    }
    Ok(())
}

/// The step of a trace's step line (`{"step":3,...}`), `None` for any other line.
fn step_of(line: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("step")?.as_u64()
}

/// The fields two header lines differ in (`processes: recorded [...], replayed [...]`), or
/// `None` when they are not both header lines.
fn header_fields(a: &str, b: &str) -> Option<Vec<FieldDifference>> {
    let flat = |line: &str| -> Option<Vec<(String, String)>> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let mut out = Vec::new();
        for (k, v) in v.get("header")?.as_object()? {
            match v.as_object() {
                Some(inner) if k == "options" => {
                    for (k2, v2) in inner {
                        out.push((format!("options.{k2}"), v2.to_string()));
                    }
                }
                _ => out.push((k.clone(), v.to_string())),
            }
        }
        Some(out)
    };
    let (fa, fb) = (flat(a)?, flat(b)?);
    let get = |f: &[(String, String)], k: &str| {
        f.iter()
            .find(|(x, _)| x == k)
            .map_or("(none)".to_string(), |(_, v)| v.clone())
    };
    let mut keys: Vec<&String> = fa.iter().chain(&fb).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let differ: Vec<FieldDifference> = keys
        .into_iter()
        .filter(|k| get(&fa, k) != get(&fb, k))
        .map(|k| FieldDifference {
            field: k.clone(),
            recorded: get(&fa, k),
            replayed: get(&fb, k),
        })
        .collect();
    (!differ.is_empty()).then_some(differ)
}

/// The recipe's properties less those the options leave out (an unknown name is an error).
fn checked_properties<R>(
    recipe: &Recipe<R>,
    options: &Options,
) -> Result<Vec<crate::property::Property<R>>, RunError> {
    let all = recipe.properties();
    for name in &options.unchecked {
        if !all.iter().any(|p| p.name == name) {
            return Err(RunError::UnknownProperty {
                recipe: recipe.name.to_string(),
                name: name.clone(),
                known: all.iter().map(|p| p.name.to_string()).collect(),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|p| !options.unchecked.iter().any(|u| u == p.name))
        .filter(|p| !(options.at_least_once && p.name == crate::recipes::cluster::STATUS_ONCE))
        .collect())
}

/// The one loop behind simulation, replay and scenarios: the trace kept with `record`, the
/// coverage with `cover`.
pub(crate) fn run<R: Role>(
    recipe: &Recipe<R>,
    options: Options,
    seed: u64,
    swarm: bool,
    source: &mut dyn Source<R>,
    record: bool,
    cover: bool,
) -> Result<Outcome, RunError> {
    // Checked before the processes are built: a shape out of range would not fit in memory.
    crate::recipes::validate(recipe.name, &options).map_err(RunError::Options)?;
    let roles = recipe.processes(&options, seed);
    let header = Header {
        schema: trace::SCHEMA.into(),
        version: trace::VERSION,
        recipe: recipe.name.into(),
        seed,
        swarm,
        policy: source.policy(),
        options: options.clone(),
        processes: roles.iter().map(|(n, _)| n.clone()).collect(),
    };
    let properties = checked_properties(recipe, &options)?;
    let set_up = recipe.set_up(&options);
    let (mut world, start) = World::with_set_up(options, &set_up, roles, seed);
    source.observe(&world, &start);
    let mut points = cover.then(coverage::Tracker::default);
    if let Some(points) = &mut points {
        points.observe(&start);
        points.observe_links(&world, &start);
    }
    let mut text = record.then(|| {
        let mut t = trace::header_line(&header);
        t.push('\n');
        t
    });
    let emit = |text: &mut Option<String>, line: &StepLine| {
        if let Some(t) = text {
            t.push_str(&trace::step_line(line));
            t.push('\n');
        }
    };
    let mut events = start.len() as u64;
    let mut reached: BTreeSet<&'static str> = BTreeSet::new();
    let mut violations = Vec::new();
    emit(
        &mut text,
        &StepLine {
            step: 0,
            time_ms: 0,
            action: None,
            events: start,
        },
    );
    let mut steps = 0u64;
    let mut quiescent = false;
    loop {
        let Some(action) = source.next(&world)? else {
            quiescent = world.enabled_actions().is_empty();
            break;
        };
        if let Some(points) = &mut points {
            points.action(&action);
        }
        let ev = world.step(&action).map_err(|error| RunError::NotEnabled {
            step: steps + 1,
            error,
        })?;
        steps += 1;
        events += ev.len() as u64;
        source.observe(&world, &ev);
        if let Some(points) = &mut points {
            points.observe(&ev);
            points.observe_links(&world, &ev);
        }
        for p in &properties {
            let holds = match p.check {
                // It held before this step (a violation ends the run).
                Check::Always(holds) => p.holds_after_step(holds, &world, &ev),
                Check::Step(holds) => holds(&world, &ev),
                Check::Sometimes(reach) => {
                    if !reached.contains(p.name) && reach(&world, &ev) {
                        reached.insert(p.name);
                    }
                    true
                }
                Check::Eventually(_) => true,
            };
            if !holds {
                violations.push(Violation {
                    property: p.name.into(),
                    step: steps,
                });
            }
        }
        emit(
            &mut text,
            &StepLine {
                step: steps,
                time_ms: world.now_ms(),
                action: Some(action),
                events: ev,
            },
        );
        if !violations.is_empty() {
            break;
        }
    }
    if violations.is_empty() && !world.faults_on() {
        for p in &properties {
            if let Check::Eventually(holds) = p.check {
                if !holds(&world) {
                    violations.push(Violation {
                        property: p.name.into(),
                        step: steps,
                    });
                }
            }
        }
    }
    let sometimes = properties
        .iter()
        .filter(|p| matches!(p.check, Check::Sometimes(_)));
    let unreached = sometimes
        .filter(|p| !reached.contains(p.name))
        .map(|p| p.name.to_string())
        .collect();
    let end = End {
        steps,
        events,
        violations,
        reached: reached.iter().map(|s| s.to_string()).collect(),
        unreached,
        quiescent,
    };
    if let Some(t) = &mut text {
        t.push_str(&trace::end_line(&end));
        t.push('\n');
    }
    Ok(Outcome {
        seed,
        end,
        text,
        coverage: points.map_or_else(RunCoverage::default, |p| p.finish(&header.processes)),
    })
}
