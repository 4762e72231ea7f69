//! The knobs of a run: fault budgets, time, delays, bounds. One struct, units in the names.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use zksim_model::children::ChildOrder;
use zksim_model::recipes::cluster::AssignPolicy;

/// How the world treats time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TimeMode {
    /// Virtual milliseconds: timers fire when due, messages arrive within
    /// `message_delay_ms_max`, a silent session expires once its timeout has passed.
    #[default]
    Timed,
    /// No clock (for exhaustive checking): timers may fire at any time and a silent session may
    /// expire at any time, so the state space stays finite.
    Abstract,
}

/// How many processes of each kind a recipe runs; `None` takes the recipe's default (the
/// election: 3 candidates; the cluster: 2 masters, 2 workers, 2 clients of 4 tasks each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Shape {
    /// Master candidates (the election's candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masters: Option<u32>,
    /// Workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    /// Tasks per client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,
    /// Tasks already queued when the cluster starts, as a client that has since gone left
    /// them: each in `/tasks` with its marker in `/clients`, put there by the cluster recipes'
    /// set-up (see [`crate::recipes::cluster::queued_tasks`]). The cluster then has work
    /// without a client process, a much smaller space to search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<u32>,
}

impl Shape {
    /// The most processes of one role (`masters`, `workers`, `clients`): far more than any
    /// search can cover, few enough that a run's per-step work stays small.
    pub const PROCESSES_MAX: u32 = 64;
    /// The most tasks per client, and the most tasks queued at the start.
    pub const TASKS_MAX: u32 = 1_000;

    fn is_default(&self) -> bool {
        *self == Shape::default()
    }

    /// Refuses a shape over its bounds ([`Shape::PROCESSES_MAX`], [`Shape::TASKS_MAX`]),
    /// naming the field (`shape.workers`).
    pub fn validate(&self) -> Result<(), Invalid> {
        let fields = [
            ("shape.masters", self.masters, Self::PROCESSES_MAX),
            ("shape.workers", self.workers, Self::PROCESSES_MAX),
            ("shape.clients", self.clients, Self::PROCESSES_MAX),
            ("shape.tasks", self.tasks, Self::TASKS_MAX),
            ("shape.queued", self.queued, Self::TASKS_MAX),
        ];
        for (field, value, max) in fields {
            if let Some(v) = value {
                Invalid::at_most(field, u64::from(v), u64::from(max))?;
            }
        }
        Ok(())
    }

    /// The fields that are set, as `(path, value)`: `("shape.workers", 2)`.
    pub fn given(&self) -> Vec<(&'static str, u32)> {
        [
            ("shape.masters", self.masters),
            ("shape.workers", self.workers),
            ("shape.clients", self.clients),
            ("shape.tasks", self.tasks),
            ("shape.queued", self.queued),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| (name, v)))
        .collect()
    }
}

/// A field of the [`Options`] out of its range: `field` is its path as a trace header or a
/// scenario's `[options]` spells it (`steps_max`, `shape.workers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The field's path.
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl Invalid {
    /// An error unless `value <= max`.
    pub fn at_most(field: &'static str, value: u64, max: u64) -> Result<(), Invalid> {
        if value <= max {
            return Ok(());
        }
        Err(Invalid {
            field,
            problem: format!("{value} is over the limit of {max}"),
        })
    }

    /// The command-line flag that sets the field (`--steps-max`, `--workers`).
    pub fn flag(&self) -> String {
        let last = self.field.rsplit('.').next().unwrap_or(self.field);
        format!("--{}", last.replace('_', "-"))
    }

    /// The message with the field named as a flag: `--workers: 100 is over the limit of 64`.
    pub fn as_flag(&self) -> String {
        format!("{}: {}", self.flag(), self.problem)
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for Invalid {}

/// Everything that shapes a run besides the recipe and the seed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Timed or abstract.
    pub time: TimeMode,
    /// The server's tickTime (session timeouts are clamped to [2, 20] ticks).
    pub tick_ms: u32,
    /// The session timeout each client asks for.
    pub session_timeout_ms: u32,
    /// The longest a message may stay on a link (timed mode).
    pub message_delay_ms_max: u64,
    /// How many processes may crash in a run.
    pub crashes_max: u32,
    /// How many processes may die for good in a run.
    pub kills_max: u32,
    /// How many connections may drop in a run.
    pub disconnects_max: u32,
    /// How many sessions may be expired by the explorer's abstraction of time (abstract mode;
    /// in timed mode sessions expire by the clock).
    pub expiries_max: u32,
    /// How many times the server may be restarted on its data directory in a run
    /// ([`crate::action::Action::RestartServer`]). 0 (the default) never restarts it.
    #[serde(skip_serializing_if = "is_zero")]
    pub server_restarts_max: u32,
    /// How many times in a run a process's event thread may stall (timed mode): the frames
    /// the server sends it wait on its side while its connection keeps the session alive,
    /// as when a watcher or callback blocks (ZooKeeper's client runs them all on one event
    /// thread). The simulator places a stall at a protocol point, right after the server
    /// handled one of the process's writes, lasting until a silent session's deadline: a
    /// session expires between a write and its reply's handling, the race a
    /// check-then-act recipe loses. With time abstract a silent session may expire at any
    /// step anyway, so stalls are for timed runs only. 0 never stalls; the default is 2, and
    /// a trace header that leaves the field out means 0 (traces from before stalls).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stalls_max: u32,
    /// The simulator's chance, per mille, of taking a fault when one is enabled.
    pub fault_per_mille: u32,
    /// The simulator's chance, per mille, of repairing (restart, reconnect) when something else
    /// could happen instead: low values leave processes down and partitions open for long,
    /// long enough for sessions to expire.
    pub repair_per_mille: u32,
    /// The simulator's chance, per mille, that the step right after the server handled a
    /// process's write (a create, delete, setData or multi) is a fault of that process: its
    /// connection drops (the write applied, its reply lost: a ConnectionLoss the role must
    /// resolve) or it crashes between two writes of one recipe step. Faults placed at these
    /// protocol points (BUGGIFY-style, per site) reach bugs that faults falling anywhere
    /// rarely do. 1000 (certain, at the active sites) by default; 0 leaves faults to
    /// `fault_per_mille` alone, and is what a trace that leaves the field out means (as
    /// for the other protocol-point knobs: traces written before these defaults omit it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub write_fault_per_mille: u32,
    /// The simulator's chance, per mille, that the step right after the server queued a
    /// watch notification to a process (a watched node created, changed or deleted, by a
    /// write or a session's expiry; or a watch re-set on reconnect that fires at once) is a
    /// fault of that process: its connection drops with the notification on the way (the
    /// client re-sets its watches on reconnect and learns what changed meanwhile, as
    /// ZooKeeper does), or it crashes before it reacts. The race between a change and its
    /// notification is where watch-driven recipes go wrong; faults placed at these protocol
    /// points (BUGGIFY-style, per site: the process, the event type and the path) reach it.
    /// 1000 by default; 0 places none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub notify_fault_per_mille: u32,
    /// The simulator's chance, per mille, that a fault it takes (a crash, kill or
    /// disconnect) strikes the leader, when the leader has one enabled: the process that
    /// last claimed to lead (a role's `leads` claim) and has not crashed or lost its session
    /// since. Jepsen's nemeses aim at the primary the same way: the bugs of failover need
    /// the leader to fail, often more than once, and uniform targets spread the few faults
    /// a run has over every process. 500 by default; 0 aims every fault uniformly.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leader_fault_per_mille: u32,
    /// The simulator's schedule in the safety phase: 0 (the default) picks uniformly among the
    /// enabled steps; `d` above 0 is PCT (probabilistic concurrency testing, Burckhardt et al.,
    /// ASPLOS 2010): the processes get a random priority order, the highest-priority process
    /// with a step enabled takes it, and at `d - 1` steps drawn at random the process that
    /// just stepped drops below all the others. A bug that needs `d` orderings to line up is
    /// then hit with a chance bounded below by 1/(n k^(d-1)) (n processes, k steps), where
    /// uniform choice can make it vanishingly rare. Faults and repairs keep their own rates;
    /// the liveness phase stays uniform (a fixed priority could starve a process).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pct_depth: u32,
    /// One protocol point in this many is active in a run (for `write_fault_per_mille` and
    /// `notify_fault_per_mille`), chosen by the seed per site as BUGGIFY activates its sites.
    /// Few active sites leave a run's fault budget to the points that come late in it (a
    /// worker's status write comes after the election, the registrations and the
    /// submissions, whose sites would otherwise take every fault first); many fault a run's
    /// first writes again and again. 16 by default (a trace that leaves it out means 4).
    #[serde(default = "four", skip_serializing_if = "is_four")]
    pub sites_one_in: u32,
    /// Steps of the safety phase (faults allowed).
    pub steps_max: u32,
    /// Steps of the liveness phase (no new faults; the cluster must converge).
    pub liveness_steps_max: u32,
    /// Whether role BUGGIFY points may fire.
    pub buggify: bool,
    /// getChildren order.
    pub child_order: ChildOrder,
    /// How the cluster's master picks workers.
    pub assign_policy: AssignPolicy,
    /// Execution is at-least-once: a client task may run and write its status twice, so
    /// "a status is written once" is not checked.
    pub at_least_once: bool,
    /// Properties not to check, by name.
    pub unchecked: Vec<String>,
    /// The cluster's shape (left out of traces when it is the recipe's default).
    #[serde(skip_serializing_if = "Shape::is_default")]
    pub shape: Shape,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            time: TimeMode::Timed,
            tick_ms: 2000,
            session_timeout_ms: 6000,
            message_delay_ms_max: 50,
            crashes_max: 2,
            kills_max: 1,
            disconnects_max: 3,
            expiries_max: 2,
            server_restarts_max: 0,
            stalls_max: 2,
            fault_per_mille: 20,
            repair_per_mille: 200,
            write_fault_per_mille: 1000,
            notify_fault_per_mille: 1000,
            leader_fault_per_mille: 500,
            pct_depth: 0,
            sites_one_in: 16,
            steps_max: 1000,
            liveness_steps_max: 2000,
            buggify: false,
            child_order: ChildOrder::Java,
            assign_policy: AssignPolicy::RoundRobin,
            at_least_once: false,
            unchecked: Vec::new(),
            shape: Shape::default(),
        }
    }
}

impl Options {
    /// The longest duration a knob may name (`tick_ms`, `session_timeout_ms`,
    /// `message_delay_ms_max`), and the latest time a scenario may name: a day of virtual
    /// milliseconds.
    pub const DURATION_MS_MAX: u64 = 86_400_000;
    /// The largest fault budget of each kind (`crashes_max`, ...).
    pub const FAULTS_MAX: u32 = 10_000;
    /// The most steps of each phase (`steps_max`, `liveness_steps_max`).
    pub const STEPS_MAX: u32 = 100_000;
    /// The largest chance per mille (`fault_per_mille`, `repair_per_mille`): certainty.
    pub const PER_MILLE_MAX: u32 = 1000;
    /// The deepest PCT schedule (`pct_depth`).
    pub const PCT_DEPTH_MAX: u32 = 16;
    /// The rarest site activation (`sites_one_in`): one site in a million.
    pub const SITES_ONE_IN_MAX: u32 = 1_000_000;

    /// Refuses options out of their bounds (the constants above and [`Shape`]'s), naming
    /// the field. Every entry point calls it: flags, trace headers, scenario files.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.tick_ms == 0 {
            return Err(Invalid {
                field: "tick_ms",
                problem: "0: a tick must last at least 1 ms".into(),
            });
        }
        if self.sites_one_in == 0 {
            return Err(Invalid {
                field: "sites_one_in",
                problem: "0: one site in 0 cannot be active; 1 activates every site".into(),
            });
        }
        let durations = [
            ("tick_ms", u64::from(self.tick_ms)),
            ("session_timeout_ms", u64::from(self.session_timeout_ms)),
            ("message_delay_ms_max", self.message_delay_ms_max),
        ];
        for (field, value) in durations {
            Invalid::at_most(field, value, Self::DURATION_MS_MAX)?;
        }
        let counts = [
            ("crashes_max", self.crashes_max, Self::FAULTS_MAX),
            ("kills_max", self.kills_max, Self::FAULTS_MAX),
            ("disconnects_max", self.disconnects_max, Self::FAULTS_MAX),
            ("expiries_max", self.expiries_max, Self::FAULTS_MAX),
            (
                "server_restarts_max",
                self.server_restarts_max,
                Self::FAULTS_MAX,
            ),
            ("stalls_max", self.stalls_max, Self::FAULTS_MAX),
            ("fault_per_mille", self.fault_per_mille, Self::PER_MILLE_MAX),
            (
                "repair_per_mille",
                self.repair_per_mille,
                Self::PER_MILLE_MAX,
            ),
            (
                "write_fault_per_mille",
                self.write_fault_per_mille,
                Self::PER_MILLE_MAX,
            ),
            (
                "notify_fault_per_mille",
                self.notify_fault_per_mille,
                Self::PER_MILLE_MAX,
            ),
            (
                "leader_fault_per_mille",
                self.leader_fault_per_mille,
                Self::PER_MILLE_MAX,
            ),
            ("pct_depth", self.pct_depth, Self::PCT_DEPTH_MAX),
            ("sites_one_in", self.sites_one_in, Self::SITES_ONE_IN_MAX),
            ("steps_max", self.steps_max, Self::STEPS_MAX),
            (
                "liveness_steps_max",
                self.liveness_steps_max,
                Self::STEPS_MAX,
            ),
        ];
        for (field, value, max) in counts {
            Invalid::at_most(field, u64::from(value), u64::from(max))?;
        }
        self.shape.validate()
    }

    /// The fields swarm testing draws from the seed ([`Options::swarmed`]), as a trace header
    /// spells them; the others keep the value they are given.
    pub const SWARM_FIELDS: [&'static str; 16] = [
        "session_timeout_ms",
        "message_delay_ms_max",
        "crashes_max",
        "kills_max",
        "disconnects_max",
        "expiries_max",
        "fault_per_mille",
        "repair_per_mille",
        "buggify",
        "assign_policy",
        "write_fault_per_mille",
        "pct_depth",
        "notify_fault_per_mille",
        "leader_fault_per_mille",
        "sites_one_in",
        "stalls_max",
    ];

    /// The defaults with every aimed fault off: faults only at a uniform rate
    /// (`fault_per_mille` 50), none placed at protocol points or aimed at the leader, no
    /// stalls, one protocol-point site in 4: what [`Options::default`] was before aimed
    /// faults became the default, and the base to measure what aiming adds.
    pub fn unaimed() -> Self {
        Options {
            fault_per_mille: 50,
            write_fault_per_mille: 0,
            notify_fault_per_mille: 0,
            leader_fault_per_mille: 0,
            sites_one_in: 4,
            stalls_max: 0,
            ..Options::default()
        }
    }

    /// Swarm testing over the default options: [`Options::swarmed`] of
    /// [`Options::default`].
    pub fn swarm(seed: u64) -> Self {
        Options::default().swarmed(seed)
    }

    /// Swarm testing: the knobs themselves drawn from the seed, so different seeds exercise
    /// different fault mixes (some none at all, some many, slow or fast links, short or long
    /// session timeouts). The fields of [`Options::SWARM_FIELDS`] are drawn; the others
    /// (time, tick, phase lengths, child order, shape, properties left unchecked) are kept
    /// from `self`, and so is the server restarts' budget (a seed's runs stay what they
    /// were unless restarts are asked for). Uses its own stream, so it never shifts the run's
    /// choices.
    pub fn swarmed(&self, seed: u64) -> Self {
        let mut rng: ChaCha8Rng = rand::SeedableRng::seed_from_u64(seed ^ 0x5357_4152_4d00_0000);
        let pick = |rng: &mut ChaCha8Rng, xs: &[u64]| xs[rng.gen_range(0..xs.len())];
        let mut drawn = Options {
            session_timeout_ms: pick(&mut rng, &[4000, 6000, 10000, 20000]) as u32,
            message_delay_ms_max: pick(&mut rng, &[0, 5, 50, 500, 3000]),
            crashes_max: rng.gen_range(0..=3),
            kills_max: rng.gen_range(0..=1),
            disconnects_max: rng.gen_range(0..=4),
            expiries_max: rng.gen_range(0..=2),
            fault_per_mille: pick(&mut rng, &[10, 50, 150, 400]) as u32,
            repair_per_mille: pick(&mut rng, &[20, 100, 300, 1000]) as u32,
            buggify: rng.gen_ratio(1, 2),
            assign_policy: [
                AssignPolicy::RoundRobin,
                AssignPolicy::LeastLoaded,
                AssignPolicy::Random,
            ][rng.gen_range(0..3)],
            // Drawn last, so the draws above are what they were before these two came in.
            write_fault_per_mille: pick(&mut rng, &[0, 0, 100, 300, 1000]) as u32,
            pct_depth: pick(&mut rng, &[0, 0, 1, 2, 3]) as u32,
            // Drawn after those, for the same reason.
            notify_fault_per_mille: pick(&mut rng, &[0, 100, 1000, 1000]) as u32,
            leader_fault_per_mille: pick(&mut rng, &[0, 300, 1000, 1000]) as u32,
            ..self.clone()
        };
        // Drawn after those, for the same reason. A quarter of the seeds take no fault
        // anywhere but at protocol points: faults at a uniform rate spend a run's budget in
        // its first hundred steps, before a worker ever writes a status. Half activate one
        // site in sixteen instead of one in four, for the same reason.
        if rng.gen_ratio(1, 4) {
            drawn.fault_per_mille = 0;
        }
        drawn.sites_one_in = pick(&mut rng, &[4, 16]) as u32;
        // Drawn after those, for the same reason: half the seeds stall (in timed runs).
        drawn.stalls_max = pick(&mut rng, &[0, 0, 2, 4]) as u32;
        drawn
    }

    /// The first of [`Options::SWARM_FIELDS`] whose value is not what `seed` draws, as
    /// `(field, value here, value drawn)`: `None` when these options are swarm options of
    /// that seed.
    pub fn not_swarmed(&self, seed: u64) -> Option<(&'static str, String, String)> {
        let fields = |o: &Options| serde_json::to_value(o).expect("serializable");
        let (here, drawn) = (fields(self), fields(&self.swarmed(seed)));
        Self::SWARM_FIELDS.into_iter().find_map(|field| {
            let (a, b) = (&here[field], &drawn[field]);
            (a != b).then(|| (field, a.to_string(), b.to_string()))
        })
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_four(n: &u32) -> bool {
    *n == 4
}

fn four() -> u32 {
    4
}

#[cfg(test)]
mod tests {
    use super::Options;

    // Goal: a trace written before protocol-point faults were the default, which leaves the
    // aimed knobs out (it ran with them off), reads back as the run it was: a left-out knob
    // means 0 (`sites_one_in` 4), not today's default; and every value survives the trip.
    #[test]
    fn aimed_knobs_left_out_of_a_header_mean_off() {
        let old: Options = serde_json::from_str(r#"{"fault_per_mille": 50}"#).unwrap();
        assert_eq!(old, Options::unaimed());
        for options in [Options::default(), Options::unaimed(), Options::swarm(7)] {
            let text = serde_json::to_string(&options).unwrap();
            assert_eq!(
                serde_json::from_str::<Options>(&text).unwrap(),
                options,
                "{text}"
            );
        }
    }
}
