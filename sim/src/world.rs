//! The world: a ZooKeeper server, processes running roles over the modeled client library,
//! per-session FIFO links, a virtual clock and fault budgets.
//!
//! ```
//! use zksim_model::recipes::election::{Candidate, ElectionVariant};
//! use zksim_sim::options::Options;
//! use zksim_sim::world::World;
//!
//! let roles = (1..=2)
//!     .map(|i| (format!("c{i}"), Candidate::new(format!("c{i}"), ElectionVariant::Correct)))
//!     .collect();
//! let (mut world, _start_events) = World::new(Options::default(), roles, 0);
//! // Deliver messages until nothing but faults and time are left.
//! use zksim_sim::action::Action;
//! let deliveries = |a: &Action| matches!(a, Action::ToServer { .. } | Action::ToClient { .. });
//! while let Some(a) = world.enabled_actions().into_iter().find(deliveries) {
//!     world.step(&a).unwrap();
//! }
//! assert_eq!(world.processes().iter().filter(|p| p.role.is_leading()).count(), 1);
//! ```
//!
//! The world is a value (`Clone + Eq + Hash`, with ordered collections only), so the explorer
//! can fingerprint it; [`World::enabled_actions`] lists what may happen next in a fixed order
//! and [`World::step`] applies one action and returns what it did as [`Event`]s.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use zksim_model::client::{Call, Client, ClientState, Compared, Delivery};
use zksim_model::error::ErrorCode;
use zksim_model::op::Request;
use zksim_model::role::{Buggify, ChoiceId, Claim, Ctx, Effect, Input, Role, Tag, TimerId};
use zksim_model::server::{Outgoing, Server, ServerConfig, ToClient};
use zksim_model::shared::{Interner, Shared};
use zksim_model::stat::SessionId;
use zksim_model::tree::DataTree;
use zksim_model::watch::Watches;

use crate::action::{Action, ProcessId};
use crate::event::Event;
use crate::options::{Options, TimeMode};

/// A message on a link, with when it was sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Msg<T> {
    sent_ms: u64,
    item: T,
}

/// One process: a role, its client handle and its two links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process<R> {
    /// Its name in traces (`master-1`); shared by every copy of the world.
    pub name: Arc<str>,
    /// The role's state, shared between copies of the world until an input changes it.
    pub role: Shared<R>,
    /// The role as it starts, for restarts: the same for every copy of the world.
    initial: Shared<R>,
    /// The handle; `None` while crashed. Shared: a request reaching the server changes the
    /// link, not the handle.
    client: Option<Shared<Client>>,
    to_server: VecDeque<Msg<(i32, Request)>>,
    to_client: VecDeque<Msg<ToClient>>,
    /// xid → the role's tag.
    tags: BTreeMap<i32, Tag>,
    /// Pending timers and when they are due (0 when time is abstract).
    timers: BTreeMap<TimerId, u64>,
    /// Pending choices and how many options each has.
    choices: BTreeMap<ChoiceId, u32>,
    /// It died for good: it never restarts.
    killed: bool,
    /// The server closed this connection (an oversize request); the client has not read the
    /// drop yet. The server reads nothing more from it.
    closed_by_server: bool,
    buggify: Buggify,
    /// Its event thread is blocked until this time (timed mode): frames wait on its side.
    stalled_until_ms: u64,
}

/// Every field, each xid on the links and in the tag table as its handle hashes its own
/// ([`Client::hashed_xid`]: where the fingerprint forgets xids, only their order is kept).
/// Destructured, so a new field cannot be forgotten here.
impl<R: std::hash::Hash> std::hash::Hash for Process<R> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Process {
            name,
            role,
            initial,
            client,
            to_server,
            to_client,
            tags,
            timers,
            choices,
            killed,
            closed_by_server,
            buggify,
            stalled_until_ms,
        } = self;
        // A crashed process has no handle, and then no xid anywhere either.
        let offset = |xid: i32| client.as_ref().map_or(xid, |c| c.hashed_xid(xid));
        (name, role, initial, client).hash(h);
        h.write_usize(to_server.len());
        for m in to_server {
            let (xid, request) = &m.item;
            (m.sent_ms, offset(*xid), request).hash(h);
        }
        h.write_usize(to_client.len());
        for m in to_client {
            m.sent_ms.hash(h);
            match &m.item {
                ToClient::Reply { xid, zxid, reply } => {
                    h.write_u8(0);
                    offset(*xid).hash(h);
                    zksim_model::hash::hash_zxid(*zxid, h);
                    reply.hash(h);
                }
                other => {
                    h.write_u8(1);
                    other.hash(h);
                }
            }
        }
        h.write_usize(tags.len());
        for (xid, tag) in tags {
            (offset(*xid), tag).hash(h);
        }
        (
            timers,
            choices,
            killed,
            closed_by_server,
            buggify,
            stalled_until_ms,
        )
            .hash(h);
    }
}

impl<R> Process<R> {
    /// A process not yet started: no client, empty links.
    fn new(name: String, role: R, index: u32, buggify_seed: Option<u64>) -> Self {
        let role = Shared::new(role);
        Process {
            name: name.into(),
            initial: role.clone(),
            role,
            client: None,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            tags: BTreeMap::new(),
            timers: BTreeMap::new(),
            choices: BTreeMap::new(),
            killed: false,
            closed_by_server: false,
            buggify: Buggify {
                seed: buggify_seed,
                process: index,
                reached: 0,
            },
            stalled_until_ms: 0,
        }
    }

    /// Whether it died for good.
    pub fn is_killed(&self) -> bool {
        self.killed
    }

    /// Whether it is running.
    pub fn is_up(&self) -> bool {
        self.client.is_some()
    }

    /// Its client handle, while running.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_deref()
    }

    /// Its current session, while running.
    pub fn session(&self) -> Option<SessionId> {
        self.client.as_ref().map(|c| c.session())
    }

    /// Requests on its link to the server, oldest first, with their xids.
    pub fn to_server(&self) -> impl Iterator<Item = &(i32, Request)> {
        self.to_server.iter().map(|m| &m.item)
    }

    /// Frames on the server's link to it (replies, watch events, a drop), oldest first.
    pub fn to_client(&self) -> impl ExactSizeIterator<Item = &ToClient> {
        self.to_client.iter().map(|m| &m.item)
    }

    /// Its pending timers, in order.
    pub fn timers(&self) -> impl Iterator<Item = TimerId> + '_ {
        self.timers.keys().copied()
    }

    /// Its pending choices and how many options each has, in order.
    pub fn choices(&self) -> impl Iterator<Item = (ChoiceId, u32)> + '_ {
        self.choices.iter().map(|(c, n)| (*c, *n))
    }

    fn is_connected(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.state() == ClientState::Connected)
    }
}

/// Faults used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Crashes so far.
    pub crashes: u32,
    /// Kills so far.
    pub kills: u32,
    /// Disconnects so far.
    pub disconnects: u32,
    /// Abstract-time expiries so far.
    pub expiries: u32,
    /// Server restarts so far.
    pub server_restarts: u32,
    /// Stalls so far.
    pub stalls: u32,
}

/// Why an action could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEnabled(pub Action);

impl std::fmt::Display for NotEnabled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "action not enabled: {:?}", self.0)
    }
}

impl std::error::Error for NotEnabled {}

/// The simulated world. The parts a step seldom changes are [`Shared`] between copies, so
/// the explorer's copy per transition is cheap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct World<R> {
    options: Shared<Options>,
    /// Shared too: a message reaching a client leaves the server as it was.
    server: Shared<Server>,
    processes: Vec<Shared<Process<R>>>,
    now_ms: u64,
    budget: Budget,
    faults_on: bool,
    /// Every claim the roles made so far (what, path): part of the state, so properties over
    /// the history (a status written twice) are properties of the state.
    notes: Shared<BTreeSet<(Claim, String)>>,
}

/// A world's identity (its fingerprint): every field, except that once faults have stopped
/// the faults used so far are left out. Nothing reads them then (every fault needs faults on,
/// and faults never start again), so two worlds that differ only in how many faults led to
/// them behave alike from there on, and the explorer keeps them as one state.
impl<R: std::hash::Hash> std::hash::Hash for World<R> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let World {
            options,
            server,
            processes,
            now_ms,
            budget,
            faults_on,
            notes,
        } = self;
        options.hash(h);
        server.hash(h);
        processes.hash(h);
        now_ms.hash(h);
        if *faults_on {
            budget.hash(h);
        }
        faults_on.hash(h);
        notes.hash(h);
    }
}

/// The tables [`World::intern`] shares parts through, one per kind of part.
pub struct Interners<R> {
    servers: Interner<Server>,
    trees: Interner<DataTree>,
    watches: Interner<Watches>,
    processes: Interner<Process<R>>,
    roles: Interner<R>,
    clients: Interner<Client>,
    notes: Interner<BTreeSet<(Claim, String)>>,
}

impl<R> Default for Interners<R> {
    fn default() -> Self {
        Interners {
            servers: Interner::default(),
            trees: Interner::default(),
            watches: Interner::default(),
            processes: Interner::default(),
            roles: Interner::default(),
            clients: Interner::default(),
            notes: Interner::default(),
        }
    }
}

impl<R: Role> World<R> {
    /// A world where every process has just connected and started. `seed` feeds BUGGIFY
    /// (when `options.buggify` is on); the returned events are the starts.
    pub fn new(options: Options, roles: Vec<(String, R)>, seed: u64) -> (Self, Vec<Event>) {
        Self::with_set_up(options, &[], roles, seed)
    }

    /// A world where a session of its own has applied `set_up` and closed, as a script run
    /// against the server before the processes start would, and then every process has
    /// just connected and started: how a recipe's set-up runs
    /// ([`crate::recipes::Recipe::world`]). The returned events are the set-up's changes,
    /// then the starts; with no set-up, the world of [`World::new`].
    ///
    /// # Panics
    /// If a set-up request fails: a set-up is made for an empty tree.
    pub fn with_set_up(
        options: Options,
        set_up: &[Request],
        roles: Vec<(String, R)>,
        seed: u64,
    ) -> (Self, Vec<Event>) {
        let config = ServerConfig {
            tick_ms: options.tick_ms,
            child_order: options.child_order,
            ..ServerConfig::default()
        };
        let buggify_seed = options.buggify.then_some(seed);
        let processes = roles
            .into_iter()
            .enumerate()
            .map(|(i, (name, role))| Process::new(name, role, i as u32, buggify_seed))
            .map(Shared::new)
            .collect();
        let mut world = World {
            options: Shared::new(options),
            server: Shared::new(Server::new(config)),
            processes,
            now_ms: 0,
            budget: Budget::default(),
            faults_on: true,
            notes: Shared::default(),
        };
        let mut events = Vec::new();
        world.set_up(set_up, &mut events);
        for p in 0..world.processes.len() {
            world.open_session(p, &mut events);
        }
        (world, events)
    }

    /// Before any process starts: a session of its own applies `requests` and closes, as a
    /// script run against the server before the processes start would (its changes are
    /// among the start's events).
    ///
    /// # Panics
    /// If a request fails: they are the recipe's own (the cluster's queued tasks), made for
    /// an empty tree.
    fn set_up(&mut self, requests: &[Request], ev: &mut Vec<Event>) {
        if requests.is_empty() {
            return;
        }
        let (session, _) = self
            .server
            .connect(self.now_ms, self.options.session_timeout_ms);
        let mut xid = 0;
        for request in requests {
            xid += 1;
            let frames = self.server.handle(self.now_ms, session, xid, request);
            let failed = frames
                .iter()
                .any(|f| matches!(&f.message, ToClient::Reply { reply: Err(_), .. }));
            assert!(!failed, "set-up request failed: {request:?}");
        }
        self.server.close(session, xid + 1);
        self.changes(ev);
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The processes.
    pub fn processes(&self) -> &[Shared<Process<R>>] {
        &self.processes
    }

    /// Virtual time.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Faults used.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Whether a role has made `claim` about `path` in this run.
    pub fn noted(&self, claim: Claim, path: &str) -> bool {
        self.notes.contains(&(claim, path.to_string()))
    }

    /// The paths of every `claim` made so far, in order.
    pub fn notes_about(&self, claim: Claim) -> impl Iterator<Item = &str> + '_ {
        let from = (claim.clone(), String::new());
        self.notes
            .range(from..)
            .take_while(move |(c, _)| *c == claim)
            .map(|(_, p)| p.as_str())
    }

    /// The claims made so far.
    pub fn notes(&self) -> impl Iterator<Item = (&Claim, &str)> {
        self.notes.iter().map(|(w, p)| (w, p.as_str()))
    }

    /// Makes this world's parts share the allocations of equal parts of worlds interned
    /// before (hash-consing, [`Shared::intern_with`]): the explorer's frontier holds millions
    /// of worlds that differ in a part or two, and most parts have few distinct values. The
    /// world stays equal, with the same fingerprint.
    pub fn intern(&mut self, tables: &mut Interners<R>) {
        let Interners {
            servers,
            trees,
            watches,
            processes,
            roles,
            clients,
            notes,
        } = tables;
        self.server
            .intern_with(servers, |s| s.intern_parts(trees, watches));
        for process in &mut self.processes {
            process.intern_with(processes, |p| {
                // Not `initial`: every copy of the world shares it already.
                p.role.intern(roles);
                if let Some(c) = &mut p.client {
                    c.intern(clients);
                }
            });
        }
        self.notes.intern(notes);
    }

    /// Whether faults may still happen.
    pub fn faults_on(&self) -> bool {
        self.faults_on
    }

    /// Feeds `h` all that a future reconnect can still learn from this world's zxids, and
    /// nothing else of them: with a fingerprint without zxids, two worlds that agree here
    /// behave alike (given roles and properties that read no zxid), so the explorer merges
    /// them while reconnects are still possible.
    ///
    /// A reconnect's SetWatches is the only place a zxid decides anything: for each watch the
    /// client holds it compares a node's `mzxid` (data watch) or `pzxid` (child watch) with
    /// the client's last zxid ([`Compared`]). By the time of a reconnect, that last zxid is
    /// the client's current one or the header zxid of a reply already on its way to it (its
    /// *cuts*; replies arrive in order, none with a zxid below the last one, so each delivery
    /// makes its reply's zxid the last one). A reply sent later carries a zxid no older than
    /// any node now. So for each client that could reconnect this writes whether the node is
    /// newer than the cut
    /// - for each watch the client holds, against every cut;
    /// - for each watch a reply on the way will register, against that reply's cut and later
    ///   ones (the earlier ones are gone by the time it registers).
    ///
    /// That is all a search needs (the worlds it merges step alike), step by step: a write
    /// takes a zxid above every cut, so to every client its node is newer; a reply's zxid is
    /// no lower than any node's, so no node is newer than the cut it adds, including the node
    /// its own watch is on; a delivery drops the first cut (and a watch it registers was
    /// written against the cuts left); a disconnect keeps only the last zxid. Which client
    /// wrote first, and by how much, is forgotten unless one of these comparisons differs.
    /// `sim/tests/zxid_abstraction.rs` searches whole graphs and checks that a search merging
    /// by this reaches exactly the states they have.
    pub fn hash_zxids_for_reconnects<H: std::hash::Hasher>(&self, h: &mut H) {
        let tree = self.server.tree();
        let zxid = |path: &str, field: Compared| tree.get(path).map_or(0, |n| field.of(n));
        for p in &self.processes {
            let client = match p.client() {
                Some(c)
                    if matches!(
                        c.state(),
                        ClientState::Connected | ClientState::Disconnected
                    ) =>
                {
                    c
                }
                _ => {
                    h.write_u8(0);
                    continue;
                }
            };
            let last = client.last_zxid();
            let replies = || {
                p.to_client.iter().filter_map(|m| match &m.item {
                    ToClient::Reply { xid, zxid, reply } if *zxid > 0 => Some((*xid, *zxid, reply)),
                    _ => None,
                })
            };
            // The last zxid is compared only for watches held: a reply that registers one
            // brings its own cut.
            let held = client.watches().compared().next().is_some();
            let first_reply = usize::from(held);
            let cuts = || {
                held.then_some(last)
                    .into_iter()
                    .chain(replies().map(|r| r.1))
            };
            h.write_u8(1);
            let mut bits = BitWords::new(h);
            for (path, field) in client.watches().compared() {
                let z = zxid(path, field);
                cuts().for_each(|cut| bits.push(z > cut));
            }
            for (i, (xid, _, reply)) in replies().enumerate() {
                let code = reply.as_ref().err().copied().unwrap_or(ErrorCode::Ok);
                let registers = client
                    .pending()
                    .find(|(x, _)| *x == xid)
                    .and_then(|(_, req)| Compared::registered_by(req, code));
                if let Some((path, field)) = registers {
                    let z = zxid(path, field);
                    cuts()
                        .skip(first_reply + i)
                        .for_each(|cut| bits.push(z > cut));
                }
            }
            bits.finish();
        }
    }

    /// Every enabled action, in a fixed order: per process (links, timers, choices, faults
    /// and repairs), then session expiries, the end of faults, and the passing of time.
    pub fn enabled_actions(&self) -> Vec<Action> {
        let mut out = Vec::new();
        self.enabled_actions_into(&mut out);
        out
    }

    /// [`World::enabled_actions`] into a buffer the caller reuses (cleared first).
    pub fn enabled_actions_into(&self, out: &mut Vec<Action>) {
        out.clear();
        let timed = self.options.time == TimeMode::Timed;
        for (process, p) in self.processes.iter().enumerate() {
            if !p.to_server.is_empty() && !p.closed_by_server {
                out.push(Action::ToServer { process });
            }
            if !p.to_client.is_empty() && p.stalled_until_ms <= self.now_ms {
                out.push(Action::ToClient { process });
            }
            for (&timer, &due) in &p.timers {
                if !timed || due <= self.now_ms {
                    out.push(Action::Timer { process, timer });
                }
            }
            for (&choice, &options) in &p.choices {
                out.extend((0..options).map(|option| Action::Choose {
                    process,
                    choice,
                    option,
                }));
            }
            if p.is_up() {
                if self.faults_on && self.budget.crashes < self.options.crashes_max {
                    out.push(Action::Crash { process });
                }
                if self.faults_on && self.budget.kills < self.options.kills_max {
                    out.push(Action::Kill { process });
                }
                if p.is_connected() {
                    if self.faults_on && self.budget.disconnects < self.options.disconnects_max {
                        out.push(Action::Disconnect { process });
                    }
                } else if p
                    .client()
                    .is_some_and(|c| c.state() == ClientState::Disconnected)
                {
                    out.push(Action::Reconnect { process });
                }
            } else if !p.killed {
                out.push(Action::Restart { process });
            }
        }
        if !timed {
            if self.faults_on && self.budget.expiries < self.options.expiries_max {
                out.extend(
                    self.silent_sessions()
                        .map(|session| Action::Expire { session }),
                );
            } else if !self.faults_on {
                // Once faults stop, the sessions nobody holds any more (their process crashed
                // or moved to a new session) still expire: that is the server's clock, not a
                // fault, and without it a crashed leader's /master would block everyone.
                out.extend(
                    self.orphaned_sessions()
                        .map(|session| Action::Expire { session }),
                );
            }
        }
        if self.faults_on && self.budget.server_restarts < self.options.server_restarts_max {
            out.push(Action::RestartServer);
        }
        if self.faults_on {
            out.push(Action::StopFaults);
        }
        if timed {
            if let Some(ms) = self.advance_limit_ms() {
                out.push(Action::Advance { ms });
            }
        }
    }

    /// Sessions the server still has whose client is not connected (crashed or cut off).
    fn silent_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.server
            .sessions()
            .keys()
            .copied()
            .filter(|s| self.is_silent(*s))
    }

    /// The earliest deadline of a session no connected client holds, if still to come.
    pub fn next_silent_deadline_ms(&self) -> Option<u64> {
        self.server
            .sessions()
            .iter()
            .filter(|(s, _)| self.is_silent(**s))
            .map(|(_, i)| i.deadline_ms)
            .filter(|&d| d > self.now_ms)
            .min()
    }

    /// Whether no connected client holds this session.
    fn is_silent(&self, session: SessionId) -> bool {
        !self
            .processes
            .iter()
            .any(|p| p.is_connected() && p.session() == Some(session))
    }

    /// Whether no running process holds this session.
    fn is_orphaned(&self, session: SessionId) -> bool {
        !self.processes.iter().any(|p| p.session() == Some(session))
    }

    /// Sessions the server still has that no running process holds.
    fn orphaned_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.server
            .sessions()
            .keys()
            .copied()
            .filter(|s| self.is_orphaned(*s))
    }

    /// How far time may advance now: up to the next due timer, the next silent session's
    /// expiry, or the latest a message in flight may arrive, whichever is first. `None` when
    /// nothing waits for time.
    pub fn advance_limit_ms(&self) -> Option<u64> {
        let mut limit: Option<u64> = None;
        let mut bound = |t: u64| limit = Some(limit.map_or(t, |l| l.min(t)));
        let mut waiting = false;
        for p in &self.processes {
            for &due in p.timers.values() {
                waiting = true;
                bound(due);
            }
            let stalled = p.stalled_until_ms > self.now_ms;
            if stalled {
                waiting = true;
                bound(p.stalled_until_ms);
            }
            let sent = p
                .to_server
                .iter()
                .map(|m| m.sent_ms)
                .chain(p.to_client.iter().filter(|_| !stalled).map(|m| m.sent_ms));
            for sent_ms in sent {
                // A message in flight lets time pass, up to the latest it may arrive.
                waiting = true;
                bound(sent_ms + self.options.message_delay_ms_max);
            }
        }
        for (s, session) in self.server.sessions() {
            if self.is_silent(*s) {
                waiting = true;
                bound(session.deadline_ms);
            }
        }
        if !waiting {
            return None;
        }
        let limit = limit?;
        (limit > self.now_ms).then(|| limit - self.now_ms)
    }

    /// Whether an action is enabled now (`Advance` up to [`World::advance_limit_ms`]).
    pub fn is_enabled(&self, action: &Action) -> bool {
        match action {
            Action::Advance { ms } => {
                self.options.time == TimeMode::Timed
                    && *ms > 0
                    && self.advance_limit_ms().is_some_and(|l| *ms <= l)
            }
            // Never listed (its length is the simulator's to choose), decided here alone.
            Action::Stall { .. } => self.is_enabled_now(action),
            other => {
                let enabled = self.is_enabled_now(other);
                debug_assert_eq!(enabled, self.enabled_actions().contains(other));
                enabled
            }
        }
    }

    /// [`World::is_enabled`] for every action but `Advance`, decided directly instead of by
    /// listing every enabled action: the simulator asks once a step, so this is a hot path.
    /// It mirrors [`World::enabled_actions`]; debug builds check that they agree.
    fn is_enabled_now(&self, action: &Action) -> bool {
        let timed = self.options.time == TimeMode::Timed;
        let faults = |used: u32, max: u32| self.faults_on && used < max;
        let process = |process: ProcessId| self.processes.get(process).map(|p| &**p);
        match *action {
            Action::ToServer { process: i } => {
                process(i).is_some_and(|p| !p.to_server.is_empty() && !p.closed_by_server)
            }
            Action::ToClient { process: i } => process(i)
                .is_some_and(|p| !p.to_client.is_empty() && p.stalled_until_ms <= self.now_ms),
            Action::Stall { process: i, ms } => {
                timed
                    && ms > 0
                    && ms <= Options::DURATION_MS_MAX
                    && faults(self.budget.stalls, self.options.stalls_max)
                    && process(i)
                        .is_some_and(|p| p.is_connected() && p.stalled_until_ms <= self.now_ms)
            }
            Action::Timer { process: i, timer } => process(i)
                .and_then(|p| p.timers.get(&timer))
                .is_some_and(|&due| !timed || due <= self.now_ms),
            Action::Choose {
                process: i,
                choice,
                option,
            } => process(i)
                .and_then(|p| p.choices.get(&choice))
                .is_some_and(|&options| option < options),
            Action::Crash { process: i } => {
                process(i).is_some_and(Process::is_up)
                    && faults(self.budget.crashes, self.options.crashes_max)
            }
            Action::Kill { process: i } => {
                process(i).is_some_and(Process::is_up)
                    && faults(self.budget.kills, self.options.kills_max)
            }
            Action::Restart { process: i } => process(i).is_some_and(|p| !p.is_up() && !p.killed),
            Action::Disconnect { process: i } => {
                process(i).is_some_and(Process::is_connected)
                    && faults(self.budget.disconnects, self.options.disconnects_max)
            }
            Action::Reconnect { process: i } => process(i).is_some_and(|p| {
                p.client()
                    .is_some_and(|c| c.state() == ClientState::Disconnected)
            }),
            Action::Expire { session } => {
                !timed
                    && self.server.sessions().contains_key(&session)
                    && if self.faults_on {
                        faults(self.budget.expiries, self.options.expiries_max)
                            && self.is_silent(session)
                    } else {
                        self.is_orphaned(session)
                    }
            }
            Action::StopFaults => self.faults_on,
            Action::Advance { .. } => false,
            Action::RestartServer => faults(
                self.budget.server_restarts,
                self.options.server_restarts_max,
            ),
        }
    }

    /// Applies one enabled action; returns the events it produced, in order.
    pub fn step(&mut self, action: &Action) -> Result<Vec<Event>, NotEnabled> {
        if !self.is_enabled(action) {
            return Err(NotEnabled(action.clone()));
        }
        let mut ev = Vec::new();
        match *action {
            Action::ToServer { process } => self.serve_next(process, &mut ev),
            Action::ToClient { process } => self.receive_next(process, &mut ev),
            Action::Timer { process, timer } => {
                self.processes[process].timers.remove(&timer);
                ev.push(Event::TimerFired { process, timer });
                self.input(process, Input::Timer { timer }, &mut ev);
            }
            Action::Choose {
                process,
                choice,
                option,
            } => {
                self.processes[process].choices.remove(&choice);
                ev.push(Event::Chose {
                    process,
                    choice,
                    option,
                });
                self.input(process, Input::Choice { choice, option }, &mut ev);
            }
            Action::Crash { process } => {
                self.budget.crashes += 1;
                self.crash(process, &mut ev);
            }
            Action::Kill { process } => {
                self.budget.kills += 1;
                self.processes[process].killed = true;
                self.crash(process, &mut ev);
            }
            Action::Restart { process } => {
                let p = &mut self.processes[process];
                p.role = p.initial.clone();
                self.open_session(process, &mut ev);
            }
            Action::Disconnect { process } => {
                self.budget.disconnects += 1;
                self.disconnect(process, &mut ev);
            }
            Action::Reconnect { process } => self.reconnect(process, &mut ev),
            Action::Expire { session } => {
                if self.faults_on {
                    self.budget.expiries += 1;
                }
                let frames = self.server.expire(session);
                self.route(frames, &mut ev);
            }
            Action::StopFaults => self.faults_on = false,
            Action::Stall { process, ms } => {
                self.budget.stalls += 1;
                self.processes[process].stalled_until_ms = self.now_ms + ms;
            }
            Action::Advance { ms } => self.advance(ms, &mut ev),
            Action::RestartServer => {
                self.budget.server_restarts += 1;
                self.restart_server(&mut ev);
            }
        }
        Ok(ev)
    }

    fn changes(&mut self, ev: &mut Vec<Event>) {
        ev.extend(
            self.server
                .take_changes()
                .into_iter()
                .map(|change| Event::Changed { change }),
        );
    }

    /// A new session for a process (start, restart, or a new handle after Expired).
    fn open_session(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        let (session, timeout_ms) = self
            .server
            .connect(self.now_ms, self.options.session_timeout_ms);
        self.changes(ev);
        let (client, _hello) = Client::connected(session, timeout_ms);
        let p = &mut self.processes[process];
        p.client = Some(Shared::new(client));
        p.closed_by_server = false;
        p.to_server.clear();
        p.to_client.clear();
        p.tags.clear();
        ev.push(Event::SessionOpened {
            process,
            session,
            timeout_ms,
        });
        self.input(process, Input::Start { session }, ev);
    }

    fn serve_next(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        let p = &mut self.processes[process];
        let msg = p.to_server.pop_front().expect("enabled");
        let session = p.session().expect("a running process");
        let (xid, request) = msg.item;
        let frames = self.server.handle(self.now_ms, session, xid, &request);
        self.changes(ev);
        for f in &frames {
            if f.session != session {
                continue;
            }
            match &f.message {
                ToClient::Reply { xid, zxid, reply } => ev.push(Event::Handled {
                    process,
                    xid: *xid,
                    zxid: *zxid,
                    reply: reply.clone(),
                }),
                ToClient::Drop => {
                    ev.push(Event::Handled {
                        process,
                        xid,
                        zxid: self.server.last_zxid(),
                        reply: Err(zksim_model::ErrorCode::ConnectionLoss),
                    });
                    // The server closed the socket: it reads nothing more from this link.
                    self.processes[process].closed_by_server = true;
                }
                ToClient::Event { .. } => {}
            }
        }
        self.route(frames, ev);
    }

    /// Puts server frames on the links of the processes whose connected session they are for;
    /// frames for a session nobody holds connected are lost with its connection.
    fn route(&mut self, frames: Vec<Outgoing>, ev: &mut Vec<Event>) {
        self.changes(ev);
        for f in frames {
            let now_ms = self.now_ms;
            if let Some(p) = self.connected_holder(f.session) {
                p.to_client.push_back(Msg {
                    sent_ms: now_ms,
                    item: f.message,
                });
            }
        }
    }

    /// The process that holds `session` connected, which frames for the session reach.
    fn connected_holder(&mut self, session: SessionId) -> Option<&mut Process<R>> {
        self.processes
            .iter_mut()
            .find(|p| p.session() == Some(session) && p.is_connected())
            .map(|p| &mut **p)
    }

    fn receive_next(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        let p = &mut self.processes[process];
        let frame = p.to_client.pop_front().expect("enabled").item;
        let client = p.client.as_mut().expect("a running process");
        let dropped = matches!(frame, ToClient::Drop);
        let deliveries = client.receive(&frame);
        if dropped {
            self.lose_links(process, ev);
            ev.push(Event::Disconnected { process });
        }
        self.deliver(process, deliveries, ev);
    }

    /// Hands client deliveries to the role, in order.
    fn deliver(&mut self, process: ProcessId, deliveries: Vec<Delivery>, ev: &mut Vec<Event>) {
        for d in deliveries {
            let input = match d {
                Delivery::Reply { xid, reply } => {
                    ev.push(Event::Replied {
                        process,
                        xid,
                        reply: reply.clone(),
                    });
                    let Some(tag) = self.processes[process].tags.remove(&xid) else {
                        continue;
                    };
                    Input::Reply { tag, reply }
                }
                Delivery::Event { event } => {
                    ev.push(Event::Notified {
                        process,
                        event: event.clone(),
                    });
                    Input::Event { event }
                }
            };
            self.input(process, input, ev);
        }
    }

    /// Runs the role on one input and carries out its effects.
    fn input(&mut self, process: ProcessId, input: Input, ev: &mut Vec<Event>) {
        let p = &mut self.processes[process];
        if !p.is_up() {
            return;
        }
        let mut ctx = Ctx::new(p.buggify);
        p.role.handle(&input, &mut ctx);
        let (effects, buggify) = ctx.finish();
        p.buggify = buggify;
        for effect in effects {
            self.effect(process, effect, ev);
        }
    }

    fn effect(&mut self, process: ProcessId, effect: Effect, ev: &mut Vec<Event>) {
        let now_ms = self.now_ms;
        let abstract_time = self.options.time == TimeMode::Abstract;
        let p = &mut self.processes[process];
        match effect {
            Effect::Call { tag, request } => {
                let client = p.client.as_mut().expect("a running process");
                let call = client.call(request.clone());
                let xid = match &call {
                    Call::Send(xid, _) | Call::Queued(xid) => *xid,
                    Call::Failed(Delivery::Reply { xid, .. }) => *xid,
                    Call::Failed(Delivery::Event { .. }) => {
                        unreachable!("a call fails with a reply")
                    }
                };
                p.tags.insert(xid, tag);
                ev.push(Event::Sent {
                    process,
                    xid,
                    request,
                });
                match call {
                    Call::Send(xid, req) => p.to_server.push_back(Msg {
                        sent_ms: now_ms,
                        item: (xid, req),
                    }),
                    Call::Queued(_) => {}
                    Call::Failed(local) => self.deliver(process, vec![local], ev),
                }
            }
            Effect::SetTimer { timer, after_ms } => {
                let due = if abstract_time { 0 } else { now_ms + after_ms };
                p.timers.insert(timer, due);
            }
            Effect::CancelTimer { timer } => {
                p.timers.remove(&timer);
            }
            Effect::Choose { choice, options } => {
                p.choices.insert(choice, options.max(1));
            }
            Effect::NewSession => self.open_session(process, ev),
            Effect::Note { claim, path } => {
                let repeat = !self.notes.insert((claim.clone(), path.clone()));
                ev.push(Event::Noted {
                    process,
                    claim,
                    path,
                    repeat,
                });
            }
            Effect::Log { line } => ev.push(Event::Log { process, line }),
        }
    }

    /// Drops both links of a process: requests not yet read by the server are lost unapplied,
    /// frames not yet read by the client are lost (their requests were applied).
    fn lose_links(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        let p = &mut self.processes[process];
        p.closed_by_server = false;
        for m in p.to_server.drain(..) {
            ev.push(Event::Lost {
                process,
                xid: m.item.0,
                to_server: true,
            });
        }
        for m in p.to_client.drain(..) {
            let xid = match m.item {
                ToClient::Reply { xid, .. } => xid,
                _ => 0,
            };
            ev.push(Event::Lost {
                process,
                xid,
                to_server: false,
            });
        }
    }

    /// A crash (or a kill): the process loses its links, its handle and its memory (the role
    /// is as it starts until a restart runs it; a killed one stays so). Its session lives on
    /// at the server until it expires.
    fn crash(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        self.lose_links(process, ev);
        let p = &mut self.processes[process];
        let session = p.session().expect("enabled");
        p.role = p.initial.clone();
        p.client = None;
        // Its event thread dies with it: a restarted process is not stalled.
        p.stalled_until_ms = 0;
        p.tags.clear();
        p.timers.clear();
        p.choices.clear();
        self.server.disconnect(session);
        ev.push(Event::Crashed { process });
    }

    fn disconnect(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        self.lose_links(process, ev);
        let p = &mut self.processes[process];
        let client = p.client.as_mut().expect("enabled");
        let session = client.session();
        let deliveries = client.disconnected();
        self.server.disconnect(session);
        ev.push(Event::Disconnected { process });
        self.deliver(process, deliveries, ev);
    }

    fn reconnect(&mut self, process: ProcessId, ev: &mut Vec<Event>) {
        let client = self.processes[process].client.as_ref().expect("enabled");
        let (session, last_zxid, watches) =
            (client.session(), client.last_zxid(), client.set_watches());
        let answer = self
            .server
            .reconnect(self.now_ms, session, last_zxid, &watches);
        ev.push(Event::Reconnected {
            process,
            expired: answer.is_none(),
        });
        let now_ms = self.now_ms;
        let p = &mut self.processes[process];
        let (deliveries, sends) = p.client.as_mut().expect("enabled").reconnected(answer);
        for item in sends {
            p.to_server.push_back(Msg {
                sent_ms: now_ms,
                item,
            });
        }
        self.deliver(process, deliveries, ev);
    }

    /// The server restarts ([`Server::restart`]). The close of each connection goes behind
    /// what is already on the link to its client, who reads that first (the old server wrote
    /// it before it stopped); the server reads nothing more from the link to it, so requests
    /// still on the way are lost when the client reads the close, as with any dropped
    /// connection. A crashed process's session is not connected and only has its timeout
    /// started over.
    fn restart_server(&mut self, ev: &mut Vec<Event>) {
        let frames = self.server.restart(self.now_ms);
        for f in &frames {
            if let Some(p) = self.connected_holder(f.session) {
                p.closed_by_server = true;
            }
        }
        ev.push(Event::ServerRestarted {
            zxid: self.server.last_zxid(),
        });
        self.route(frames, ev);
    }

    fn advance(&mut self, ms: u64, ev: &mut Vec<Event>) {
        self.now_ms += ms;
        let connected: Vec<SessionId> = self
            .processes
            .iter()
            .filter(|p| p.is_connected())
            .filter_map(|p| p.session())
            .collect();
        for s in connected {
            self.server.touch(self.now_ms, s);
        }
        let frames = self.server.expire_due(self.now_ms);
        self.route(frames, ev);
    }
}

/// Bits fed to a hasher 64 to a word (the last word padded with zeros).
struct BitWords<'h, H> {
    h: &'h mut H,
    word: u64,
    len: u32,
}

impl<'h, H: std::hash::Hasher> BitWords<'h, H> {
    fn new(h: &'h mut H) -> Self {
        BitWords { h, word: 0, len: 0 }
    }

    fn push(&mut self, bit: bool) {
        self.word |= u64::from(bit) << self.len;
        self.len += 1;
        if self.len == 64 {
            self.h.write_u64(self.word);
            (self.word, self.len) = (0, 0);
        }
    }

    fn finish(self) {
        self.h.write_u64(self.word);
    }
}
