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
    /// them: each in `/tasks` with its marker in `/clients` (see
    /// [`crate::recipes::cluster::queued_tasks`]). The cluster then has work without a client
    /// process, a much smaller space to search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<u32>,
}

impl Shape {
    fn is_default(&self) -> bool {
        *self == Shape::default()
    }
}

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
    /// The simulator's chance, per mille, of taking a fault when one is enabled.
    pub fault_per_mille: u32,
    /// The simulator's chance, per mille, of repairing (restart, reconnect) when something else
    /// could happen instead: low values leave processes down and partitions open for long,
    /// long enough for sessions to expire.
    pub repair_per_mille: u32,
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
            fault_per_mille: 50,
            repair_per_mille: 200,
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
    /// Swarm testing: the knobs themselves drawn from the seed, so different seeds exercise
    /// different fault mixes (some none at all, some many, slow or fast links, short or long
    /// session timeouts). Uses its own stream, so it never shifts the run's choices.
    pub fn swarm(seed: u64) -> Self {
        let mut rng: ChaCha8Rng = rand::SeedableRng::seed_from_u64(seed ^ 0x5357_4152_4d00_0000);
        let pick = |rng: &mut ChaCha8Rng, xs: &[u64]| xs[rng.gen_range(0..xs.len())];
        Options {
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
            ..Options::default()
        }
    }
}
