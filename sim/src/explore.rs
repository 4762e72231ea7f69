//! Exhaustive exploration: every interleaving of the world's enabled actions, with time
//! abstracted and fault budgets bounding the space, breadth-first (shortest counterexamples)
//! or depth-first, on one thread or several with the same result.
//!
//! Visited states are kept as 64-bit fingerprints (a fixed hash of the whole world, the same
//! on every machine; each shared part of a world is hashed once and remembered) with an 8-byte
//! parent link, so a path to a violation is rebuilt as a list of actions, which
//! [`crate::run::run_actions`] turns into an ordinary trace (`zksim replay` and the renderers
//! work on it).
//!
//! What is checked:
//! - safety: every `Always` property in every state, every `Step` property on every
//!   transition (even into a state seen before);
//! - liveness, under the recipe's assumption that faults eventually stop: every `Eventually`
//!   property in every terminal state once faults have stopped, and (with
//!   [`Search::liveness`]) in every set of fault-free states the run can never leave (a bottom
//!   strongly connected component of the state graph): if a property fails in all of them, a
//!   run can cycle there forever without it ever holding, reported as a lasso (a path to the
//!   cycle, then the cycle). Cycles the run can leave are not reported: a fair scheduler leaves
//!   them.
//!
//! Two reductions keep the cluster's space small, both tested against the whole search:
//! partial-order reduction ([`Search::reduction`]: one process's local steps taken alone
//! where that loses no violation and no terminal state) and fingerprints without zxids but
//! for what a reconnect can still compare, nothing once no client can reconnect
//! ([`Search::forget_zxids`]: orders of writes that nothing can tell apart are one state).
//!
//! The frontier's worlds are hash-consed: before a new world is kept, each of its shared parts
//! is replaced by an equal one an earlier world on the same thread holds, if any
//! ([`zksim_model::shared::Shared::intern_with`], equality checked, not assumed), so the
//! frontier stores each distinct part once rather than once a world.
//!
//! The parallel mode is level-synchronous: a batch of the breadth-first frontier is expanded on
//! every thread (clone, step, fingerprint, properties: the costly part), then the successors are
//! merged into the visited set on one thread in the order a single thread would have met them.
//! So verdict, state count, state ids and counterexample are the same for any thread count.
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
//! let roles = recipe.processes(&options, 0);
//! let report = explore(roles, &options, &recipe.properties(), &Limits::default());
//! assert!(report.complete && report.violation.is_none());
//! ```

use std::collections::VecDeque;
use std::hash::Hasher as _;

use zksim_model::client::ClientState;
use zksim_model::hash::Forget;
use zksim_model::role::Role;
use zksim_model::server::ToClient;

use crate::action::Action;
use crate::event::Event;
use crate::options::{Options, TimeMode};
use crate::property::{Check, Property, Reads};
use crate::world::{Interners, NotEnabled, World};

mod graph;
mod label;
mod visited;

pub use graph::StateGraph;
use visited::Visited;

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
    /// States waiting to be expanded at most (the breadth-first frontier or depth-first
    /// stack, whole worlds: this bounds most of the memory).
    pub frontier_max: u64,
    /// Resident memory of the process at most, in bytes (checked every 1,024 new states,
    /// where the OS tells it: Linux).
    pub memory_max_bytes: u64,
    /// Wall-clock time at most (checked every 1,024 new states); `None`: no limit. Where it
    /// stops a search depends on the machine: the verdict is `incomplete` either way.
    pub time_max: Option<std::time::Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            states_max: 2_000_000,
            depth_max: 1000,
            frontier_max: 10_000_000,
            memory_max_bytes: 16 << 30,
            time_max: None,
        }
    }
}

/// The order states are explored in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Level by level: the first counterexample found is a shortest one.
    #[default]
    BreadthFirst,
    /// Deepest first (one thread): less frontier memory on deep spaces; counterexamples are
    /// not the shortest.
    DepthFirst,
}

/// How to search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// Where to stop.
    pub limits: Limits,
    /// Breadth-first or depth-first.
    pub strategy: Strategy,
    /// Threads expanding states (breadth-first only; 1 runs on the caller's thread).
    pub threads: usize,
    /// Look for fault-free cycles a run can never leave in which an `Eventually` property
    /// never holds (costs 4 bytes a state and 10 a fault-free transition).
    pub liveness: bool,
    /// Keep the whole state graph, labeled, for [`StateGraph::to_dot`] (small runs only:
    /// at most this many states; 0 keeps none).
    pub graph_states_max: u64,
    /// Partial-order reduction: where it is sound, take the local steps of one process alone
    /// instead of every interleaving of them with the others' (see [`Report::reduced`]). It
    /// applies only when every safety property reads the shared state alone
    /// ([`crate::property::Reads::SharedState`]).
    pub reduction: bool,
    /// Forget zxids but for what a reconnect can still compare: where no client can reconnect
    /// any more, states are fingerprinted without them
    /// ([`zksim_model::hash::fingerprint_without_zxids`]); before, with only whether each
    /// watched node changed since each zxid its client may reconnect with
    /// ([`World::hash_zxids_for_reconnects`]). So orders of writes that differ only in which
    /// got the lower zxid merge. Sound only if no role and no property reads a zxid (a
    /// `Stat`'s `czxid`, `mzxid` or `pzxid`, a change's zxid); the built-in recipes read
    /// none. A connection the server drops (an oversize request) where no client could
    /// reconnect stops the search ([`Stop::ZxidsNeeded`]): its reconnect compares zxids.
    pub forget_zxids: bool,
    /// Forget the values of xids (request numbers), keeping their order
    /// ([`zksim_model::hash::Forget::xids`]): states that differ only in how many requests
    /// each handle has numbered are one (`fixed` 1/1/1/1: 64,031 states instead of 547,440).
    /// Sound for any role, which never sees an xid, and any property that reads none in the
    /// events (the built-in ones read none).
    pub forget_xids: bool,
    /// Collect the terminal states (no action left) in [`Report::terminals`], to compare
    /// searches done different ways (tests).
    pub terminals: bool,
}

impl Search {
    /// The counters this search's fingerprints forget (zxids: where nothing can compare them).
    pub fn forgets(&self) -> Forget {
        Forget {
            zxids: self.forget_zxids,
            xids: self.forget_xids,
        }
    }
}

impl Default for Search {
    fn default() -> Self {
        Search {
            limits: Limits::default(),
            strategy: Strategy::BreadthFirst,
            threads: 1,
            liveness: true,
            graph_states_max: 0,
            reduction: true,
            forget_zxids: false,
            forget_xids: true,
            terminals: false,
        }
    }
}

/// Which limit ended a search early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// [`Limits::states_max`].
    StatesMax,
    /// [`Limits::depth_max`]: states at that depth still had actions.
    DepthMax,
    /// [`Limits::frontier_max`].
    FrontierMax,
    /// [`Limits::memory_max_bytes`].
    MemoryMax,
    /// [`Search::graph_states_max`].
    GraphStatesMax,
    /// The reduced fault-free graph has a cycle, so the liveness search cannot conclude under
    /// partial-order reduction ([`Search::reduction`]): search again without it.
    ReductionCycle,
    /// The server dropped a connection where zxids were forgotten ([`Search::forget_zxids`]),
    /// and the reconnect that follows compares zxids: search again without forgetting them.
    ZxidsNeeded,
    /// [`Limits::time_max`].
    TimeMax,
    /// The progress callback answered [`Flow::Stop`].
    Caller,
}

/// What a progress callback answers ([`search_with`]): go on, or stop the search, which then
/// ends `incomplete` with [`Stop::Caller`]. A callback that returns nothing goes on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    #[default]
    Continue,
    /// Stop now.
    Stop,
}

impl From<()> for Flow {
    fn from((): ()) -> Self {
        Flow::Continue
    }
}

impl Stop {
    /// The limit's name, as the command line spells its flag.
    pub fn name(self) -> &'static str {
        match self {
            Stop::StatesMax => "states-max",
            Stop::DepthMax => "depth-max",
            Stop::FrontierMax => "frontier-max",
            Stop::MemoryMax => "memory-max",
            Stop::GraphStatesMax => "graph-states-max",
            Stop::ReductionCycle => "no-reduction",
            Stop::ZxidsNeeded => "exact-zxids",
            Stop::TimeMax => "seconds-max",
            Stop::Caller => "caller",
        }
    }
}

/// A property that failed, with the path to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property's name.
    pub property: String,
    /// The actions from the start that lead to it.
    pub path: Vec<Action>,
    /// For a liveness cycle (a lasso), where in `path` the cycle starts: the actions from
    /// there to the end lead back to the state reached at that point, forever.
    pub cycle_start: Option<usize>,
}

/// How far a search has got (passed to the progress callback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Distinct states so far.
    pub states: u64,
    /// Transitions so far.
    pub transitions: u64,
    /// The deepest level reached.
    pub depth: u32,
    /// Bytes of the visited set, parent links and recorded edges.
    pub bookkeeping_bytes: u64,
    /// The process's resident memory, where the OS tells it (Linux), frontier included.
    pub resident_bytes: Option<u64>,
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
    /// The limit that stopped the search, if one did.
    pub stopped: Option<Stop>,
    /// The first violation found (breadth-first: a shortest counterexample).
    pub violation: Option<Violation>,
    /// Bytes of the visited set and parent links (and, for liveness, the fault-free edges
    /// still in memory) at the end: what the states cost beyond the frontier.
    pub bookkeeping_bytes: u64,
    /// Bytes of the visited set alone (the fingerprint table) at the end.
    pub visited_bytes: u64,
    /// The state graph, when [`Search::graph_states_max`] asked for it.
    pub graph: Option<StateGraph>,
    /// Whether partial-order reduction was on: asked for, and every safety property reads
    /// the shared state only.
    pub reduction: bool,
    /// States expanded by the local steps of one process alone (partial-order reduction).
    pub reduced: u64,
    /// What each kind of action contributed (transitions and new states), in
    /// [`Action::KINDS`] order, kinds never taken left out: where the states come from.
    pub by_kind: Vec<KindCount>,
    /// With [`Search::terminals`]: the terminal states reached (no action left), each by its
    /// key with zxids and xids forgotten (whatever the search forgot, so that searches done
    /// different ways compare), sorted, each once.
    pub terminals: Vec<u64>,
    /// Each `Sometimes` property, in the order given, with whether some transition searched
    /// reached it: a `verified` with one never reached has not shown the code it names ever
    /// ran. Under partial-order reduction a transition the whole graph has may have been put
    /// off for good (one whose events the reduction sees as invisible, a reply or a timer), so
    /// a property read from such events can show unreached here and reached under
    /// `--no-reduction`; claims, the server's changes and faults are always reached.
    pub sometimes: Vec<(&'static str, bool)>,
}

/// What one kind of action contributed to a search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCount {
    /// The kind, as [`Action::KINDS`] names it.
    pub kind: &'static str,
    /// Transitions of this kind taken, into new states or ones seen before.
    pub transitions: u64,
    /// Distinct states first reached by this kind of action.
    pub states: u64,
}

/// Explores every interleaving from the start, breadth-first on one thread. `options.time`
/// must be abstract (with a clock the space is infinite); the world's fault budgets bound it.
pub fn explore<R: Role + Send + Sync>(
    roles: Vec<(String, R)>,
    options: &Options,
    properties: &[Property<R>],
    limits: &Limits,
) -> Report {
    let search = Search {
        limits: limits.clone(),
        ..Search::default()
    };
    search_with(roles, options, properties, &search, &mut |_| {})
}

/// Explores as `search` says, calling `progress` every 4,096 new states; the callback may
/// answer [`Flow::Stop`] to end the search there (returning nothing goes on). The start is
/// [`World::new`] of `roles`: a recipe with a set-up is searched with [`search_from`].
pub fn search_with<R: Role + Send + Sync, F: Into<Flow>>(
    roles: Vec<(String, R)>,
    options: &Options,
    properties: &[Property<R>],
    search: &Search,
    progress: &mut dyn FnMut(&Progress) -> F,
) -> Report {
    let (start, _) = World::new(options.clone(), roles, 0);
    search_from(start, properties, search, progress)
}

/// [`search_with`] from the world `start`, such as a recipe's
/// ([`crate::recipes::Recipe::world`] with seed 0, its set-up applied). Its options' time
/// must be abstract.
pub fn search_from<R: Role + Send + Sync, F: Into<Flow>>(
    start: World<R>,
    properties: &[Property<R>],
    search: &Search,
    progress: &mut dyn FnMut(&Progress) -> F,
) -> Report {
    let progress = &mut |p: &Progress| progress(p).into();
    assert_eq!(
        start.options().time,
        TimeMode::Abstract,
        "the explorer needs abstract time"
    );
    let mut explorer = Explorer::new(start, properties, search);
    let outcome = match search.strategy {
        Strategy::BreadthFirst => explorer.breadth_first(progress),
        Strategy::DepthFirst => explorer.depth_first(progress),
    };
    explorer.finish(outcome)
}

/// A state waiting to be expanded.
struct Node<R> {
    world: World<R>,
    id: u32,
    depth: u32,
}

/// One successor of an expanded state, as a worker thread computed it.
struct Successor<R> {
    /// The action's index among the parent's enabled actions.
    index: u16,
    /// Its kind ([`Action::kind`]).
    kind: u8,
    fingerprint: u64,
    /// The new world; `None` when the visited set held it before this batch, or this thread
    /// met it earlier in the batch.
    world: Option<World<R>>,
    /// A `Step` property the transition broke.
    step_broken: Option<&'static str>,
    /// A connection dropped where zxids were forgotten ([`Stop::ZxidsNeeded`]).
    zxids_needed: bool,
    /// An `Always` property the new state breaks.
    always_broken: Option<&'static str>,
    /// A bit per `Eventually` property that fails in the new state (liveness only).
    eventually_failing: u32,
    /// A bit per `Sometimes` property the transition reached.
    reached: u64,
    /// The new state's label (graph only).
    label: Option<String>,
    /// What the transition did, in a few words (graph only).
    edge_label: Option<String>,
}

/// A step taken: the world after it, its events, and the new world's fingerprint.
struct Taken<R> {
    next: World<R>,
    events: Vec<Event>,
    fingerprint: u64,
}

/// A state expanded: what the merge needs.
struct Expanded<R> {
    id: u32,
    depth: u32,
    /// An `Eventually` property failing in this state, terminal with faults stopped.
    terminal_failing: Option<&'static str>,
    /// It had actions but sat at the depth limit.
    cut: bool,
    /// Its key, when it is terminal and the search collects terminal states.
    terminal: Option<u64>,
    /// Only one process's local steps were taken (partial-order reduction).
    reduced: bool,
    successors: Vec<Successor<R>>,
}

/// Why a search ended before exhausting the space.
enum End {
    Exhausted,
    Limit(Stop),
    Violated(Violation),
}

struct Explorer<'a, R> {
    start: World<R>,
    properties: &'a [Property<R>],
    search: &'a Search,
    visited: Visited,
    /// By state id: the parent's id and the index of the action, among the parent's enabled
    /// actions, that led here (8 bytes a state; a path is rebuilt by re-running the choices).
    parents: Vec<(u32, u16)>,
    /// Liveness: by state id, a bit per failing `Eventually` property (`u32::MAX`: faults
    /// were still on, so the state is not part of the fault-free graph).
    failing: Vec<u32>,
    /// Liveness: fault-free transitions (from, to, action index).
    edges: graph::EdgeLog,
    graph: Option<StateGraph>,
    /// Partial-order reduction is on.
    reduce: bool,
    /// States expanded reduced.
    reduced: u64,
    /// Terminal states' keys ([`Search::terminals`]).
    terminals: Vec<u64>,
    /// By action kind: (transitions, new states).
    by_kind: [(u64, u64); Action::KINDS.len()],
    /// Duplicate worlds met by the last merge, for the next batch's threads to drop.
    garbage: Vec<World<R>>,
    transitions: u64,
    depth: u32,
    cut: bool,
    /// A bit per `Sometimes` property some transition reached.
    reached: u64,
    /// When the search began ([`Limits::time_max`]).
    started: std::time::Instant,
}

impl<'a, R: Role + Send + Sync> Explorer<'a, R> {
    fn new(start: World<R>, properties: &'a [Property<R>], search: &'a Search) -> Self {
        let reduce = search.reduction
            && properties.iter().all(|p| match p.check {
                Check::Always(_) | Check::Step(_) => p.reads == Reads::SharedState,
                Check::Sometimes(_) | Check::Eventually(_) => true,
            });
        // The reduction's cycle proviso compares state ids.
        let tracking = search.liveness || search.graph_states_max > 0 || reduce;
        let mut visited = Visited::new(tracking);
        visited.insert(state_fingerprint(&start, search.forgets()), 0);
        let mut explorer = Explorer {
            properties,
            search,
            visited,
            parents: vec![(0, u16::MAX)],
            failing: Vec::new(),
            edges: graph::EdgeLog::new(),
            graph: (search.graph_states_max > 0).then(StateGraph::default),
            reduce,
            reduced: 0,
            by_kind: [(0, 0); Action::KINDS.len()],
            terminals: Vec::new(),
            garbage: Vec::new(),
            transitions: 0,
            depth: 0,
            cut: false,
            reached: 0,
            // The time limit reads the wall clock; nothing the search finds depends on it.
            #[allow(clippy::disallowed_methods)]
            started: std::time::Instant::now(),
            start,
        };
        if search.liveness {
            let mask = explorer.eventually_mask(&explorer.start);
            explorer.failing.push(mask);
        }
        if let Some(g) = &mut explorer.graph {
            g.add_state(label::state(&explorer.start));
        }
        explorer
    }

    fn states(&self) -> u64 {
        self.parents.len() as u64
    }

    /// A state's fingerprint, without zxids where they are forgotten.
    fn fingerprint(&self, world: &World<R>) -> u64 {
        state_fingerprint(world, self.search.forgets())
    }

    fn progress(&self, resident_bytes: Option<u64>) -> Progress {
        Progress {
            states: self.states(),
            transitions: self.transitions,
            depth: self.depth,
            bookkeeping_bytes: self.bookkeeping_bytes(),
            resident_bytes,
        }
    }

    fn bookkeeping_bytes(&self) -> u64 {
        let parents = self.parents.capacity() * std::mem::size_of::<(u32, u16)>();
        let failing = self.failing.capacity() * 4;
        let edges = self.edges.bytes();
        (self.visited.bytes() + parents + failing + edges) as u64
    }

    fn breadth_first(&mut self, progress: &mut dyn FnMut(&Progress) -> Flow) -> End {
        let threads = self.search.threads.max(1);
        // A batch is big enough to keep every thread busy between merges, small enough
        // that its successors (whole worlds, duplicates included) stay a modest amount of
        // memory. One thread needs no batching.
        let batch_len = if threads == 1 { 1 } else { 512 * threads };
        let mut frontier = VecDeque::from([Node {
            world: self.start.clone(),
            id: 0,
            depth: 0,
        }]);
        let mut batch = Vec::with_capacity(batch_len);
        // One table per thread, kept from batch to batch: no locking, and a value is stored
        // at most once per thread.
        let mut interners: Vec<Interners<R>> = (0..threads).map(|_| Interners::default()).collect();
        while !frontier.is_empty() {
            let take = batch_len.min(frontier.len());
            batch.extend(frontier.drain(..take));
            let garbage = std::mem::take(&mut self.garbage);
            let expanded = self.expand_all(&mut batch, garbage, &mut interners);
            for expanded in expanded {
                let mut push = |n: Node<R>| frontier.push_back(n);
                if let Err(end) = self.merge(expanded, &mut push, progress) {
                    return end;
                }
                if frontier.len() as u64 > self.search.limits.frontier_max {
                    return End::Limit(Stop::FrontierMax);
                }
            }
        }
        End::Exhausted
    }

    fn depth_first(&mut self, progress: &mut dyn FnMut(&Progress) -> Flow) -> End {
        let mut stack = vec![Node {
            world: self.start.clone(),
            id: 0,
            depth: 0,
        }];
        let mut interners = Interners::default();
        while let Some(node) = stack.pop() {
            let expanded = self.expand(node, None, &mut interners);
            let mut children = Vec::new();
            let mut push = |n: Node<R>| children.push(n);
            if let Err(end) = self.merge(expanded, &mut push, progress) {
                return end;
            }
            // The first enabled action is explored first.
            stack.extend(children.into_iter().rev());
            if stack.len() as u64 > self.search.limits.frontier_max {
                return End::Limit(Stop::FrontierMax);
            }
        }
        End::Exhausted
    }

    /// Expands (and empties) a batch, on `threads` threads when there are several, results in
    /// batch order. The worlds are dropped where they are expanded, and so is the garbage
    /// (duplicates the last merge met), so freeing memory is spread over the threads too.
    fn expand_all(
        &self,
        batch: &mut Vec<Node<R>>,
        mut garbage: Vec<World<R>>,
        interners: &mut [Interners<R>],
    ) -> Vec<Expanded<R>> {
        let threads = interners.len();
        if threads == 1 || batch.len() == 1 {
            let interners = &mut interners[0];
            return batch
                .drain(..)
                .map(|n| self.expand(n, None, interners))
                .collect();
        }
        let chunk = batch.len().div_ceil(threads);
        let garbage_chunk = garbage.len().div_ceil(threads).max(1);
        let mut parts = Vec::with_capacity(threads);
        while !batch.is_empty() {
            let rest = batch.split_off(chunk.min(batch.len()));
            let trash = garbage.split_off(garbage.len().saturating_sub(garbage_chunk));
            parts.push((std::mem::replace(batch, rest), trash));
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .zip(interners.iter_mut())
                .map(|((part, trash), interners)| {
                    scope.spawn(move || {
                        drop(trash);
                        // The fingerprints this thread has met in its part: a later duplicate
                        // is known to be one before the merge, so no work is spent on it.
                        let mut met = Visited::new(false);
                        part.into_iter()
                            .map(|n| self.expand(n, Some(&mut met), interners))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e))
                        .into_iter()
                })
                .collect()
        })
    }

    /// Steps every enabled action of one state and judges the results (pure: runs on any
    /// thread; reads the visited set only to skip states already known).
    fn expand(
        &self,
        node: Node<R>,
        mut met: Option<&mut Visited>,
        interners: &mut Interners<R>,
    ) -> Expanded<R> {
        let actions = actions(&node.world);
        let terminal_failing = if actions.is_empty() && !node.world.faults_on() {
            failing_eventually(&node.world, self.properties)
        } else {
            None
        };
        let terminal = (self.search.terminals && actions.is_empty())
            .then(|| state_fingerprint(&node.world, Forget::everything()));
        if node.depth >= self.search.limits.depth_max {
            return Expanded {
                id: node.id,
                depth: node.depth,
                terminal_failing,
                cut: !actions.is_empty(),
                terminal,
                reduced: false,
                successors: Vec::new(),
            };
        }
        // By action: the step, once taken. The reduction takes some; if it falls back to
        // every action, those are not taken again.
        let mut taken: Vec<Option<Taken<R>>> = actions.iter().map(|_| None).collect();
        let ample = if self.reduce {
            self.ample(&node, &actions, &mut taken)
        } else {
            None
        };
        let reduced = ample.is_some();
        let indices = ample.unwrap_or_else(|| (0..actions.len()).collect());
        let successors = indices
            .into_iter()
            .map(|index| {
                let step = taken[index]
                    .take()
                    .unwrap_or_else(|| self.take(&node.world, &actions[index]));
                self.judge(
                    &node.world,
                    index,
                    &actions[index],
                    step,
                    met.as_deref_mut(),
                    interners,
                )
            })
            .collect();
        Expanded {
            id: node.id,
            depth: node.depth,
            terminal_failing,
            cut: false,
            terminal,
            reduced,
            successors,
        }
    }

    /// Partial-order reduction: the local steps of one process (a message reaching it, its
    /// timers, its choices), when taking them alone loses no violation and no terminal state.
    /// The indices (among `actions`) of the steps of the smallest-numbered process that
    /// qualifies, or `None` to take every action. The steps it tries are left in `taken`.
    ///
    /// Why it is sound (an ample set, in the terms of Clarke, Grumberg and Peled's "Model
    /// Checking", ch. 10): a local step of process `p` reads and writes only `p`'s role, its
    /// client handle, the front of the link to it and the back of the link from it. So it
    /// commutes with every step of another process (those only push onto the back of `p`'s
    /// incoming link, which is not empty while a message waits there) and with `p`'s own
    /// message to the server (the front of the outgoing link); these qualify as independent.
    /// What it does not commute with is excluded before it is taken:
    /// - `p`'s repairs (reconnect, restart) and the expiry of its session: a process with any
    ///   of them enabled is passed over. A crash or kill of `p` is an exception: it wipes
    ///   everything the step can change (the role starts over, the links and handle are
    ///   dropped, and the step made no claim), so the step then the crash ends where the
    ///   crash alone does. A crash need not be taken first, and the faults-on part of the
    ///   graph is reduced too;
    /// - a disconnect of `p` is the other: it is taken with the local steps (the set is then
    ///   stubborn, in Valmari's terms, rather than ample), if no request of `p` is on its way
    ///   to the server (the server could take it first; a disconnect drops it) and the
    ///   disconnect's own events are quiet (no claim, no new session; the frames it drops
    ///   were on the way to `p`). It commutes with every step of another process: a frame the
    ///   other's step pushes to `p` is dropped by the disconnect either way, and the watch
    ///   that sent it is gone either way (fired, or removed with the connection). The only
    ///   interference is the shared budget: with the last disconnect left, another process's
    ///   disconnect disables `p`'s, which is harmless, since `p`'s local step, the set's key
    ///   step, stays enabled whatever the others do, so every path the others' disconnect
    ///   begins is still reached after it;
    /// - a step that changes `p`'s session or connection (a dropped connection, an expiry
    ///   the role answers with a new session, which the server numbers), loses messages, or
    ///   makes a claim (which the properties see): the step's events are checked, and any
    ///   event but a reply, a notification, a sent request, a timer, a choice or a log line
    ///   passes the process over;
    /// - the properties see none of it: every safety property reads the shared state only
    ///   ([`Reads::SharedState`]), else reduction is off. `Eventually` properties are judged
    ///   in terminal states, which this reduction keeps (every terminal state of the full
    ///   graph is reached), and in fault-free cycles, which [`Stop::ReductionCycle`] covers;
    /// - a step back to a state found no later than this one (by id: ids are handed out in
    ///   the order states are found) passes the process over, so every cycle of the reduced
    ///   graph has a fully expanded state and no step is put off forever (the cycle proviso).
    ///   Ids, not the visited set as it stands, decide it, so the parallel mode reduces
    ///   exactly as one thread does.
    fn ample(
        &self,
        node: &Node<R>,
        actions: &[Action],
        taken: &mut [Option<Taken<R>>],
    ) -> Option<Vec<usize>> {
        let world = &node.world;
        'process: for (p, proc) in world.processes().iter().enumerate() {
            let local = |a: &Action| match *a {
                Action::ToClient { process }
                | Action::Timer { process, .. }
                | Action::Choose { process, .. } => process == p,
                _ => false,
            };
            if !actions.iter().any(local) {
                continue;
            }
            let session = proc.session();
            // Not a crash or a kill, nor a disconnect: see above.
            let conflicts = actions.iter().any(|a| match *a {
                Action::Reconnect { process } | Action::Restart { process } => process == p,
                Action::Expire { session: s } => Some(s) == session,
                _ => false,
            });
            if conflicts {
                continue;
            }
            let disconnect = Action::Disconnect { process: p };
            let disconnect = actions.iter().position(|a| *a == disconnect);
            // A disconnect would drop a request still on its way, which the server may take
            // first (a step outside the set): they do not commute.
            if disconnect.is_some() && proc.to_server().next().is_some() {
                continue;
            }
            let handle = |w: &World<R>| w.processes()[p].client().map(|c| (c.session(), c.state()));
            let mut steps = Vec::new();
            for (index, action) in actions.iter().enumerate().filter(|(_, a)| local(a)) {
                let step = taken[index].get_or_insert_with(|| self.take(world, action));
                if !step.events.iter().all(is_invisible) || handle(&step.next) != handle(world) {
                    continue 'process;
                }
                if self.closes_a_cycle(node, step) {
                    continue 'process;
                }
                steps.push(index);
            }
            if let Some(index) = disconnect {
                let step = taken[index].get_or_insert_with(|| self.take(world, &actions[index]));
                let quiet = step.events.iter().all(|e| {
                    is_invisible(e)
                        || matches!(
                            e,
                            Event::Disconnected { .. }
                                | Event::Lost {
                                    to_server: false,
                                    ..
                                }
                        )
                });
                if !quiet || self.closes_a_cycle(node, step) {
                    continue 'process;
                }
                steps.push(index);
            }
            return Some(steps);
        }
        None
    }

    /// Whether a step taken alone leads back to a state found no later than `node` (the cycle
    /// proviso, see [`Explorer::ample`]).
    fn closes_a_cycle(&self, node: &Node<R>, step: &Taken<R>) -> bool {
        self.visited
            .get(step.fingerprint)
            .is_some_and(|id| id <= node.id)
    }

    /// Takes one enabled action from `world`.
    fn take(&self, world: &World<R>, action: &Action) -> Taken<R> {
        let mut next = world.clone();
        let (events, _) = step(&mut next, action).expect("an enabled action");
        let fingerprint = self.fingerprint(&next);
        Taken {
            next,
            events,
            fingerprint,
        }
    }

    /// Judges one transition: `world` by `action` (the `index`th enabled one) to `step`.
    fn judge(
        &self,
        world: &World<R>,
        index: usize,
        action: &Action,
        step: Taken<R>,
        met: Option<&mut Visited>,
        interners: &mut Interners<R>,
    ) -> Successor<R> {
        let Taken {
            mut next,
            events,
            fingerprint: fp,
        } = step;
        let index = u16::try_from(index).expect("fewer than 65,536 enabled actions");
        let step_broken = self.properties.iter().find_map(|p| match p.check {
            Check::Step(holds) if !holds(&next, &events) => Some(p.name),
            _ => None,
        });
        // Only a connection the server drops makes a world that forgot zxids remember them
        // again: every other way of reconnecting was foreseen (see `remembers_zxids`).
        let zxids_needed =
            self.search.forget_zxids && !remembers_zxids(world) && remembers_zxids(&next);
        let mut successor = Successor {
            index,
            kind: action.kind() as u8,
            fingerprint: fp,
            world: None,
            step_broken,
            zxids_needed,
            always_broken: None,
            eventually_failing: 0,
            reached: self.reached_mask(&next, &events),
            label: None,
            edge_label: self.graph.is_some().then(|| label::action(world, action)),
        };
        let met_before = met.is_some_and(|m| m.insert(fp, 0).is_some());
        if met_before || self.visited.contains(fp) {
            return successor;
        }
        // They held in `world`: a state that breaks one is never expanded.
        successor.always_broken = self.properties.iter().find_map(|p| match p.check {
            Check::Always(holds) if !p.holds_after_step(holds, &next, &events) => Some(p.name),
            _ => None,
        });
        if self.search.liveness {
            successor.eventually_failing = self.eventually_mask(&next);
        }
        if self.graph.is_some() {
            successor.label = Some(label::state(&next));
        }
        // It may wait in the frontier a while: its parts share the allocations of equal
        // parts of worlds before it (most parts have few distinct values), which cuts the
        // frontier's memory several times over.
        next.intern(interners);
        successor.world = Some(next);
        successor
    }

    /// A bit per `Eventually` property failing in a fault-free state; `u32::MAX` while
    /// faults are on (such states are not part of the liveness graph).
    /// A bit per `Sometimes` property (in order among them) that this transition reaches.
    fn reached_mask(&self, next: &World<R>, events: &[Event]) -> u64 {
        let mut mask = 0;
        let sometimes = self.properties.iter().filter_map(|p| match p.check {
            Check::Sometimes(reach) => Some(reach),
            _ => None,
        });
        for (i, reach) in sometimes.enumerate().take(64) {
            if reach(next, events) {
                mask |= 1 << i;
            }
        }
        mask
    }

    fn eventually_mask(&self, world: &World<R>) -> u32 {
        if world.faults_on() {
            return u32::MAX;
        }
        eventually_properties(self.properties)
            .enumerate()
            .filter(|(_, (_, holds))| !holds(world))
            .fold(0, |mask, (bit, _)| mask | 1 << bit)
    }

    /// Takes one expanded state's results into the search, in the order one thread would.
    fn merge(
        &mut self,
        expanded: Expanded<R>,
        push: &mut dyn FnMut(Node<R>),
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<(), End> {
        let node = (expanded.id, expanded.depth);
        self.depth = self.depth.max(node.1);
        if let Some(p) = expanded.terminal_failing {
            return Err(self.violated(p, node.0, None));
        }
        self.cut |= expanded.cut;
        self.terminals.extend(expanded.terminal);
        self.reduced += u64::from(expanded.reduced);
        for s in expanded.successors {
            self.transitions += 1;
            self.by_kind[usize::from(s.kind)].0 += 1;
            self.reached |= s.reached;
            if s.zxids_needed {
                return Err(End::Limit(Stop::ZxidsNeeded));
            }
            if let Some(p) = s.step_broken {
                self.depth = self.depth.max(node.1 + 1);
                return Err(self.violated(p, node.0, Some(s.index)));
            }
            let next_id = u32::try_from(self.parents.len()).expect("fewer than 2^32 states");
            if let Some(existing) = self.visited.insert(s.fingerprint, next_id) {
                self.record_edge(node.0, existing, s.index, s.edge_label);
                if let (Some(world), true) = (s.world, self.search.threads > 1) {
                    self.garbage.push(world);
                }
                continue;
            }
            let world = s.world.expect("a state new to this batch was kept");
            if self.states() >= self.search.limits.states_max {
                return Err(End::Limit(Stop::StatesMax));
            }
            if self.graph.is_some() && self.states() >= self.search.graph_states_max {
                return Err(End::Limit(Stop::GraphStatesMax));
            }
            self.parents.push((node.0, s.index));
            self.by_kind[usize::from(s.kind)].1 += 1;
            if self.search.liveness {
                self.failing.push(s.eventually_failing);
            }
            if let (Some(g), Some(l)) = (&mut self.graph, s.label) {
                g.add_state(l);
            }
            self.record_edge(node.0, next_id, s.index, s.edge_label);
            if let Some(p) = s.always_broken {
                self.depth = self.depth.max(node.1 + 1);
                return Err(self.violated(p, next_id, None));
            }
            self.after_new_state(progress)?;
            push(Node {
                world,
                id: next_id,
                depth: node.1 + 1,
            });
        }
        Ok(())
    }

    fn record_edge(&mut self, from: u32, to: u32, index: u16, label: Option<String>) {
        if let (Some(g), Some(label)) = (&mut self.graph, label) {
            g.add_edge(from, to, label);
        }
        // Fault-free edges leave fault-free states only (faults never start again).
        if self.search.liveness && self.failing[from as usize] != u32::MAX {
            self.edges.push((from, to, index));
        }
    }

    /// Progress and the memory limit, every so many new states.
    fn after_new_state(&mut self, progress: &mut dyn FnMut(&Progress) -> Flow) -> Result<(), End> {
        let states = self.states();
        if states % 1024 != 0 {
            return Ok(());
        }
        // One reading of the OS serves the memory limit and the progress line.
        let resident = resident_bytes();
        if resident.is_some_and(|b| b > self.search.limits.memory_max_bytes) {
            return Err(End::Limit(Stop::MemoryMax));
        }
        if self
            .search
            .limits
            .time_max
            .is_some_and(|max| self.started.elapsed() > max)
        {
            return Err(End::Limit(Stop::TimeMax));
        }
        if states % 4096 == 0 && progress(&self.progress(resident)) == Flow::Stop {
            return Err(End::Limit(Stop::Caller));
        }
        Ok(())
    }

    fn violated(&self, property: &str, id: u32, last: Option<u16>) -> End {
        End::Violated(Violation {
            property: property.into(),
            path: self.path_to(id, last),
            cycle_start: None,
        })
    }

    /// The actions from the start to state `id` (and then the `last` enabled action, if
    /// given), found by following parent links back and re-running the choices forward.
    fn path_to(&self, id: u32, last: Option<u16>) -> Vec<Action> {
        let mut indices = self.choices_to(id);
        indices.extend(last);
        replay_choices(&mut self.start.clone(), &indices)
    }

    /// The choices (action indices) from the start to state `id`, by its parent links.
    fn choices_to(&self, mut id: u32) -> Vec<u16> {
        let mut indices = Vec::new();
        while id != 0 {
            let (parent, index) = self.parents[id as usize];
            indices.push(index);
            id = parent;
        }
        indices.reverse();
        indices
    }

    fn finish(mut self, end: End) -> Report {
        let (mut violation, mut stopped) = match end {
            End::Exhausted => (None, self.cut.then_some(Stop::DepthMax)),
            End::Limit(stop) => (None, Some(stop)),
            End::Violated(v) => (Some(v), None),
        };
        // Measured before the liveness search takes the edges.
        let (bookkeeping_bytes, visited_bytes) =
            (self.bookkeeping_bytes(), self.visited.bytes() as u64);
        if violation.is_none() && stopped.is_none() && self.search.liveness {
            if self.graph.is_none() {
                // Nothing looks a state up by fingerprint any more (only a graph's highlight
                // does): its memory goes to the liveness search.
                self.visited = Visited::new(false);
            }
            let edges = std::mem::replace(&mut self.edges, graph::EdgeLog::new()).into_edges();
            let fault_free = graph::FaultFree::new(self.failing.len(), edges);
            if self.reduced > 0 && fault_free.has_cycle() {
                // A fault-free cycle of the reduced graph may stand for a trap of the full
                // one the reduction cut short: the liveness search cannot conclude here.
                stopped = Some(Stop::ReductionCycle);
            } else {
                violation = self.cycle_violation(&fault_free);
            }
        }
        if let (Some(v), true) = (&violation, self.graph.is_some()) {
            let ids = self.ids_along(&v.path);
            if let Some(g) = &mut self.graph {
                g.highlight(ids);
            }
        }
        Report {
            states: self.states(),
            transitions: self.transitions,
            depth: self.depth,
            complete: stopped.is_none(),
            stopped,
            violation,
            bookkeeping_bytes,
            visited_bytes,
            graph: self.graph,
            reduction: self.reduce,
            reduced: self.reduced,
            by_kind: Action::KINDS
                .iter()
                .zip(self.by_kind)
                .filter(|(_, (transitions, _))| *transitions > 0)
                .map(|(&kind, (transitions, states))| KindCount {
                    kind,
                    transitions,
                    states,
                })
                .collect(),
            terminals: {
                let mut t = std::mem::take(&mut self.terminals);
                t.sort_unstable();
                t.dedup();
                t
            },
            sometimes: self
                .properties
                .iter()
                .filter(|p| matches!(p.check, Check::Sometimes(_)))
                .enumerate()
                .map(|(i, p)| (p.name, i < 64 && self.reached & (1 << i) != 0))
                .collect(),
        }
    }

    /// The ids of the states a path goes through, start first (those the search kept).
    fn ids_along(&self, path: &[Action]) -> Vec<u32> {
        let mut world = self.start.clone();
        let mut ids = vec![0];
        for action in path {
            world.step(action).expect("a path of enabled actions");
            ids.extend(self.visited.get(self.fingerprint(&world)));
        }
        ids
    }

    /// A bottom strongly connected component of the fault-free graph in which some
    /// `Eventually` property fails in every state, as a lasso.
    fn cycle_violation(&self, fault_free: &graph::FaultFree) -> Option<Violation> {
        let names: Vec<&'static str> = eventually_properties(self.properties)
            .map(|(name, _)| name)
            .collect();
        let (entry, cycle, bit) = fault_free.trapping_cycle(&self.failing)?;
        let mut world = self.start.clone();
        let mut path = replay_choices(&mut world, &self.choices_to(entry));
        let cycle_start = path.len();
        path.extend(replay_choices(&mut world, &cycle));
        Some(Violation {
            property: names[bit as usize].into(),
            path,
            cycle_start: Some(cycle_start),
        })
    }
}

/// The actions the explorer takes from a state: the world's enabled actions, except that once
/// every fault budget is spent while faults are still on, only [`Action::StopFaults`]. No fault
/// can happen any more, and the world with faults over has every action this one has (and the
/// expiry of sessions nobody holds), so the faults-on copy of the rest of the space would only
/// double it; a counterexample through it is at most one step longer this way.
pub fn actions<R: Role>(world: &World<R>) -> Vec<Action> {
    if faults_spent(world) {
        vec![Action::StopFaults]
    } else {
        world.enabled_actions()
    }
}

/// Whether faults are still on with every budget spent: no fault can happen any more.
fn faults_spent<R: Role>(world: &World<R>) -> bool {
    let (used, o) = (world.budget(), world.options());
    world.faults_on()
        && used.crashes >= o.crashes_max
        && used.kills >= o.kills_max
        && used.disconnects >= o.disconnects_max
        && used.expiries >= o.expiries_max
        && used.server_restarts >= o.server_restarts_max
}

/// Takes an enabled action as the search does: the step and, when it spent the last fault
/// budget, [`Action::StopFaults`] with it (`true` then; the events are both steps'). The
/// state between the two has that one action (see [`actions`]), so keeping it would only add
/// a state for every fault taken (a sixth of `fixed` 1/1/1/1's states with one disconnect);
/// a path through the pair lists both actions.
pub fn step<R: Role>(
    world: &mut World<R>,
    action: &Action,
) -> Result<(Vec<Event>, bool), NotEnabled> {
    let mut events = world.step(action)?;
    let stop = *action != Action::StopFaults && faults_spent(world);
    if stop {
        events.extend(world.step(&Action::StopFaults)?);
    }
    Ok((events, stop))
}

/// A state's fingerprint as the search keys it. With `forget.xids`, every xid as its distance
/// below its handle's next ([`Search::forget_xids`]). With `forget.zxids` (see
/// [`Search::forget_zxids`]), without zxids where no client can reconnect any more, and
/// otherwise with only what a reconnect can still compare
/// ([`World::hash_zxids_for_reconnects`]).
pub fn state_fingerprint<R: Role>(world: &World<R>, forget: Forget) -> u64 {
    if !forget.zxids {
        return zksim_model::hash::fingerprint_forgetting(world, forget);
    }
    let without = zksim_model::hash::fingerprint_forgetting(world, forget);
    if !remembers_zxids(world) {
        return without;
    }
    let mut h = zksim_model::hash::Fingerprinter::default();
    h.write_u64(without);
    world.hash_zxids_for_reconnects(&mut h);
    h.finish()
}

/// Whether a client may still reconnect, so zxids still matter: a SetWatches compares the
/// client's last zxid with the nodes' (a watched node changed since fires). That is while a
/// client is disconnected or its connection's close is on the way to it, or while faults may
/// still disconnect one (a disconnect, a server restart). (A connection the server drops for
/// a request of its own is caught where it happens: [`Stop::ZxidsNeeded`].)
fn remembers_zxids<R: Role>(world: &World<R>) -> bool {
    let (used, o) = (world.budget(), world.options());
    let faults_left = world.faults_on()
        && (used.disconnects < o.disconnects_max || used.server_restarts < o.server_restarts_max);
    faults_left
        || world.processes().iter().any(|p| {
            p.client()
                .is_some_and(|c| c.state() == ClientState::Disconnected)
                || p.to_client().any(|m| matches!(m, ToClient::Drop))
        })
}

/// Whether a local step's event leaves everything a shared-state property reads as it was
/// (see [`Explorer::ample`]).
fn is_invisible(event: &Event) -> bool {
    matches!(
        event,
        Event::Replied { .. }
            | Event::Notified { .. }
            | Event::Sent { .. }
            | Event::TimerFired { .. }
            | Event::Chose { .. }
            | Event::Log { .. }
    )
}

/// Steps `world` through the given choices (indices among its [`actions`]), returning
/// the actions taken.
fn replay_choices<R: Role>(world: &mut World<R>, indices: &[u16]) -> Vec<Action> {
    let mut path = Vec::with_capacity(indices.len());
    for &index in indices {
        let action = actions(world).swap_remove(usize::from(index));
        let (_, stopped) = step(world, &action).expect("a recorded choice");
        path.push(action);
        if stopped {
            path.push(Action::StopFaults);
        }
    }
    path
}

/// The `Eventually` properties, in order (at most 32: a bit each).
fn eventually_properties<R>(
    properties: &[Property<R>],
) -> impl Iterator<Item = (&'static str, fn(&World<R>) -> bool)> + '_ {
    properties
        .iter()
        .filter_map(|p| match p.check {
            Check::Eventually(holds) => Some((p.name, holds)),
            _ => None,
        })
        .take(32)
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

/// The process's resident memory, where the OS tells it (Linux). The explorer's own resource
/// guard, outside the simulated world: nothing explored depends on it.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
