//! `zksim simulate`, `zksim replay`, `zksim render`: seeded runs, their traces, and reading them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zksim_model::children::ChildOrder;
use zksim_model::recipes::cluster::AssignPolicy;
use zksim_sim::coverage::Coverage;
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::plural::{count, noun};
use zksim_sim::recipes::{self, Recipe};
use zksim_sim::run::{self, Outcome};
use zksim_sim::{render, trace};

use crate::exit::CliError;
use crate::files;

/// A half-open range of seeds, written as Rust writes ranges: `A..B` (B excluded), of at most
/// [`SeedRange::SEEDS_MAX`] seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// The most seeds one command runs: about eleven days at a thousand seeds a second.
    pub const SEEDS_MAX: u64 = 1_000_000_000;
    /// The largest seed `--seed` takes: the range `S..S+1` that holds it must be writable.
    pub const SEED_MAX: u64 = u64::MAX - 1;

    /// How many seeds.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether it holds no seed (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

impl std::str::FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("{s:?} is not a range like 0..1000 (end excluded)"))?;
        let num = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|e| format!("{x:?} in {s:?} is not a seed: {e}"))
        };
        let (start, end) = (num(a)?, num(b)?);
        if end <= start {
            return Err(format!("the range {s:?} is empty (the end is excluded)"));
        }
        let range = SeedRange { start, end };
        if range.len() > Self::SEEDS_MAX {
            return Err(format!(
                "the range {s:?} holds {} seeds, over the limit of {}",
                range.len(),
                Self::SEEDS_MAX
            ));
        }
        Ok(range)
    }
}

/// One of `count` interleaved slices of a seed range, written `I/N` (`--shard 1/4`): the
/// `index`-th (from 0) holds the range's seeds `A+I, A+I+N, A+I+2N, ...`, so shards of one
/// range share its slow and fast seeds alike and together run each seed once. `0/1` is the
/// whole range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Which slice, from 0, below `count`.
    pub index: u64,
    /// How many slices the range is cut into, 1 to [`Shard::COUNT_MAX`].
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// The most shards a range is cut into: far more machines than a run of a billion seeds
    /// needs, few enough that `zksim merge` reads them all.
    pub const COUNT_MAX: u64 = 100_000;

    /// Refuses an index not below the count, or a count out of 1 to [`Shard::COUNT_MAX`].
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 || self.count > Self::COUNT_MAX {
            return Err(format!(
                "the shard count {} is not in 1..={}",
                self.count,
                Self::COUNT_MAX
            ));
        }
        if self.index >= self.count {
            return Err(format!(
                "the shard index {} is not below the count {} (indices are from 0: 0/{} to \
                 {}/{})",
                self.index,
                self.count,
                self.count,
                self.count - 1,
                self.count
            ));
        }
        Ok(())
    }

    /// How many of `range`'s seeds this slice holds (0 when the range has fewer seeds than
    /// the index).
    pub fn len(&self, range: SeedRange) -> u64 {
        match range.len().checked_sub(self.index) {
            Some(rest) if rest > 0 => (rest - 1) / self.count + 1,
            _ => 0,
        }
    }

    /// The `k`-th seed of this slice of `range` (`k` below [`Shard::len`]).
    pub fn nth(&self, range: SeedRange, k: u64) -> u64 {
        range.start + self.index + k * self.count
    }

    /// Whether `seed` is one of this slice's seeds of `range`.
    pub fn holds(&self, range: SeedRange, seed: u64) -> bool {
        (range.start..range.end).contains(&seed) && (seed - range.start) % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| {
            format!("{s:?} is not a shard like 0/4 (the index from 0, then the count)")
        })?;
        let num = |x: &str, what: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|e| format!("{x:?} in {s:?} is not a shard {what}: {e}"))
        };
        let shard = Shard {
            index: num(i, "index")?,
            count: num(n, "count")?,
        };
        shard.validate()?;
        Ok(shard)
    }
}

/// The most threads a command runs on (`--jobs`, `--threads`).
pub const THREADS_MAX: usize = 256;

/// `--jobs` and `--threads`: 1 to [`THREADS_MAX`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|e| format!("{s:?} is not a count: {e}"))?;
    if n == 0 || n > THREADS_MAX {
        return Err(format!("{n} is not in 1..={THREADS_MAX}"));
    }
    Ok(n)
}

/// Range-checked flag values, bounded by the constants of [`Options`] and [`Shape`].
macro_rules! ranged {
    (u32, $lo:expr, $hi:expr) => {
        clap::value_parser!(u32).range(i64::from($lo)..=i64::from($hi))
    };
    (u64, $lo:expr, $hi:expr) => {
        clap::value_parser!(u64).range($lo..=$hi)
    };
}
pub(crate) use ranged;

/// The cluster's shape as `simulate` takes it; each flag left out takes the recipe's default.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ShapeArgs {
    /// Master candidates (the election's candidates), at most 64 [default: the recipe's: the
    /// election 3, the cluster 2].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub masters: Option<u32>,
    /// Workers, at most 64 (cluster recipes only) [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub workers: Option<u32>,
    /// Clients, at most 64 (cluster recipes only) [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub clients: Option<u32>,
    /// Tasks per client, at most 1000 (cluster recipes only) [default: 4].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::TASKS_MAX))]
    pub tasks: Option<u32>,
    /// Tasks already queued when the cluster starts (no client waits for them), at most 1000
    /// (cluster recipes only) [default: 0].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::TASKS_MAX))]
    pub queued: Option<u32>,
}

impl ShapeArgs {
    /// The shape given.
    pub fn shape(&self) -> Shape {
        Shape {
            masters: self.masters,
            workers: self.workers,
            clients: self.clients,
            tasks: self.tasks,
            queued: self.queued,
        }
    }
}

/// Knobs that shape the model itself, for `simulate` and `check` alike.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ModelKnobs {
    /// Let role BUGGIFY points fire.
    #[arg(long)]
    pub buggify: bool,
    /// getChildren order: `java` (as a real server), `sorted`, `shuffled` (seeded by the run)
    /// [default: java].
    #[arg(long, value_parser = parse_order)]
    pub child_order: Option<ChildOrder>,
    /// How the master picks workers: `round-robin`, `least-loaded`, `random` [default:
    /// round-robin].
    #[arg(long, value_parser = parse_policy)]
    pub assign_policy: Option<AssignPolicy>,
    /// Execution is at-least-once: do not check "a status is written once".
    #[arg(long)]
    pub at_least_once: bool,
    /// A property not to check, by name (repeatable).
    #[arg(long = "uncheck")]
    pub unchecked: Vec<String>,
}

impl ModelKnobs {
    /// These knobs applied to `options`.
    pub fn apply(&self, options: &mut Options) {
        options.buggify |= self.buggify;
        if let Some(o) = self.child_order {
            options.child_order = o;
        }
        if let Some(p) = self.assign_policy {
            options.assign_policy = p;
        }
        options.at_least_once |= self.at_least_once;
        options.unchecked = self.unchecked.clone();
    }
}

/// The knobs of [`Options`] as `simulate` takes them, each overriding the default when given;
/// every bound is a constant of [`Options`] or [`Shape`].
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Knobs {
    /// `timed` (virtual milliseconds) or `abstract` (no clock) [default: timed].
    #[arg(long, value_parser = parse_time)]
    pub time: Option<TimeMode>,
    /// The server's tickTime, 1 to 86400000 (a day) [default: 2000].
    #[arg(long, value_parser = ranged!(u32, 1, Options::DURATION_MS_MAX as u32))]
    pub tick_ms: Option<u32>,
    /// The session timeout clients ask for, at most a day [default: 6000].
    #[arg(long, value_parser = ranged!(u32, 0, Options::DURATION_MS_MAX as u32))]
    pub session_timeout_ms: Option<u32>,
    /// The longest a message stays on a link, at most a day [default: 50].
    #[arg(long, value_parser = ranged!(u64, 0, Options::DURATION_MS_MAX))]
    pub message_delay_ms_max: Option<u64>,
    /// Crashes allowed per run, at most 10000 [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub crashes_max: Option<u32>,
    /// Permanent crashes allowed per run, at most 10000 [default: 1].
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub kills_max: Option<u32>,
    /// Disconnects allowed per run, at most 10000 [default: 3].
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub disconnects_max: Option<u32>,
    /// Expiries allowed per run (abstract time), at most 10000 [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub expiries_max: Option<u32>,
    /// Server restarts on the same data directory allowed per run, at most 10000 [default:
    /// 0]; --swarm keeps it.
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub server_restarts_max: Option<u32>,
    /// Stalls of a process's event thread allowed per run (timed time), placed right after
    /// a write to the path a cut-off process last wrote, until its session's deadline, at
    /// most 10000 [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub stalls_max: Option<u32>,
    /// Chance of a fault per step when one is enabled, per mille (0 to 1000) [default: 20].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PER_MILLE_MAX))]
    pub fault_per_mille: Option<u32>,
    /// Chance of a repair (restart, reconnect) when something else could happen, per mille
    /// (0 to 1000) [default: 200].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PER_MILLE_MAX))]
    pub repair_per_mille: Option<u32>,
    /// Chance, per mille (0 to 1000), that right after the server handled a process's write
    /// the next step drops that process's connection or crashes it (faults at protocol
    /// points) [default: 1000].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PER_MILLE_MAX))]
    pub write_fault_per_mille: Option<u32>,
    /// Chance, per mille (0 to 1000), that right after the server queued a watch
    /// notification to a process the next step drops that process's connection or crashes it
    /// (faults at protocol points) [default: 1000].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PER_MILLE_MAX))]
    pub notify_fault_per_mille: Option<u32>,
    /// Chance, per mille (0 to 1000), that a fault strikes the leader (the process that last
    /// claimed to lead) when it has one enabled [default: 500].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PER_MILLE_MAX))]
    pub leader_fault_per_mille: Option<u32>,
    /// Schedule the safety phase by PCT of this depth (1 to 16): processes in a random
    /// priority order that changes at depth - 1 random steps; 0 picks uniformly [default: 0].
    #[arg(long, value_parser = ranged!(u32, 0, Options::PCT_DEPTH_MAX))]
    pub pct_depth: Option<u32>,
    /// Activate one protocol point in this many for a run (1 to 1000000), by the seed, for
    /// the faults placed after writes and notifications; fewer active points leave more of
    /// the fault budget to the points late in a run [default: 16].
    #[arg(long, value_parser = ranged!(u32, 1, Options::SITES_ONE_IN_MAX))]
    pub sites_one_in: Option<u32>,
    /// Steps of the safety phase, at most 100000 [default: 1000].
    #[arg(long, value_parser = ranged!(u32, 0, Options::STEPS_MAX))]
    pub steps_max: Option<u32>,
    /// Steps of the liveness phase, at most 100000 [default: 2000].
    #[arg(long, value_parser = ranged!(u32, 0, Options::STEPS_MAX))]
    pub liveness_steps_max: Option<u32>,
    /// The knobs `check` takes too.
    #[command(flatten)]
    pub model: ModelKnobs,
    /// The shape.
    #[command(flatten)]
    pub shape: ShapeArgs,
}

fn parse_policy(s: &str) -> Result<AssignPolicy, String> {
    match s {
        "round-robin" => Ok(AssignPolicy::RoundRobin),
        "least-loaded" => Ok(AssignPolicy::LeastLoaded),
        "random" => Ok(AssignPolicy::Random),
        _ => Err(format!(
            "{s:?}: expected `round-robin`, `least-loaded` or `random`"
        )),
    }
}

fn parse_time(s: &str) -> Result<TimeMode, String> {
    match s {
        "timed" => Ok(TimeMode::Timed),
        "abstract" => Ok(TimeMode::Abstract),
        _ => Err(format!("{s:?}: expected `timed` or `abstract`")),
    }
}

fn parse_order(s: &str) -> Result<ChildOrder, String> {
    match s {
        "java" => Ok(ChildOrder::Java),
        "sorted" => Ok(ChildOrder::Sorted),
        // Seeded from the run's seed (see `run::simulate`).
        "shuffled" => Ok(ChildOrder::Shuffled { seed: 0 }),
        _ => Err(format!("{s:?}: expected `java`, `sorted` or `shuffled`")),
    }
}

impl Knobs {
    /// The options: defaults, overridden by the flags given.
    pub fn options(&self) -> Options {
        let d = Options::default();
        let mut options = Options {
            time: self.time.unwrap_or(d.time),
            tick_ms: self.tick_ms.unwrap_or(d.tick_ms),
            session_timeout_ms: self.session_timeout_ms.unwrap_or(d.session_timeout_ms),
            message_delay_ms_max: self.message_delay_ms_max.unwrap_or(d.message_delay_ms_max),
            crashes_max: self.crashes_max.unwrap_or(d.crashes_max),
            kills_max: self.kills_max.unwrap_or(d.kills_max),
            disconnects_max: self.disconnects_max.unwrap_or(d.disconnects_max),
            expiries_max: self.expiries_max.unwrap_or(d.expiries_max),
            server_restarts_max: self.server_restarts_max.unwrap_or(d.server_restarts_max),
            stalls_max: self.stalls_max.unwrap_or(d.stalls_max),
            fault_per_mille: self.fault_per_mille.unwrap_or(d.fault_per_mille),
            write_fault_per_mille: self
                .write_fault_per_mille
                .unwrap_or(d.write_fault_per_mille),
            notify_fault_per_mille: self
                .notify_fault_per_mille
                .unwrap_or(d.notify_fault_per_mille),
            leader_fault_per_mille: self
                .leader_fault_per_mille
                .unwrap_or(d.leader_fault_per_mille),
            pct_depth: self.pct_depth.unwrap_or(d.pct_depth),
            sites_one_in: self.sites_one_in.unwrap_or(d.sites_one_in),
            repair_per_mille: self.repair_per_mille.unwrap_or(d.repair_per_mille),
            steps_max: self.steps_max.unwrap_or(d.steps_max),
            liveness_steps_max: self.liveness_steps_max.unwrap_or(d.liveness_steps_max),
            shape: self.shape.shape(),
            ..d
        };
        self.model.apply(&mut options);
        options
    }

    /// The first flag given whose field `--swarm` draws from each seed instead
    /// ([`Options::SWARM_FIELDS`]), as it is typed (`--crashes-max`).
    pub fn drawn_by_swarm(&self) -> Option<String> {
        let given = [
            ("session_timeout_ms", self.session_timeout_ms.is_some()),
            ("message_delay_ms_max", self.message_delay_ms_max.is_some()),
            ("crashes_max", self.crashes_max.is_some()),
            ("kills_max", self.kills_max.is_some()),
            ("disconnects_max", self.disconnects_max.is_some()),
            ("expiries_max", self.expiries_max.is_some()),
            ("fault_per_mille", self.fault_per_mille.is_some()),
            ("repair_per_mille", self.repair_per_mille.is_some()),
            ("buggify", self.model.buggify),
            ("assign_policy", self.model.assign_policy.is_some()),
            (
                "write_fault_per_mille",
                self.write_fault_per_mille.is_some(),
            ),
            ("pct_depth", self.pct_depth.is_some()),
            (
                "notify_fault_per_mille",
                self.notify_fault_per_mille.is_some(),
            ),
            (
                "leader_fault_per_mille",
                self.leader_fault_per_mille.is_some(),
            ),
            ("sites_one_in", self.sites_one_in.is_some()),
            ("stalls_max", self.stalls_max.is_some()),
        ];
        debug_assert!(given
            .iter()
            .map(|(f, _)| f)
            .eq(Options::SWARM_FIELDS.iter()));
        given
            .into_iter()
            .find(|(_, is_given)| *is_given)
            .map(|(field, _)| format!("--{}", field.replace('_', "-")))
    }

    /// With `swarm`, refuses a flag whose knob swarm draws from each seed (it would be
    /// ignored), naming it.
    pub fn refuse_drawn(&self, swarm: bool) -> Result<(), String> {
        match self.drawn_by_swarm().filter(|_| swarm) {
            Some(flag) => Err(format!(
                "{flag}: --swarm draws it from each seed, so the flag would be ignored; give \
                 one or the other (--swarm keeps --time, --tick-ms, the phase lengths, \
                 --server-restarts-max, --child-order, --at-least-once, --uncheck and the \
                 shape)"
            )),
            None => Ok(()),
        }
    }
}

/// The flags that make a run of `options` from the defaults, as they would be typed again: each
/// field that is not its default's, so the reproduce command depends on the options run and not
/// on how they were spelled (`--crashes-max 2` is the default and left out).
pub fn replay_flags(options: &Options) -> String {
    let d = Options::default();
    let mut f = String::new();
    let mut add = |name: &str, given: bool, v: String| {
        if given {
            f.push_str(&format!(" --{name} {v}"));
        }
    };
    let time = match options.time {
        TimeMode::Timed => "timed",
        TimeMode::Abstract => "abstract",
    };
    add("time", options.time != d.time, time.into());
    let numbers = [
        ("tick-ms", u64::from(options.tick_ms), u64::from(d.tick_ms)),
        (
            "session-timeout-ms",
            u64::from(options.session_timeout_ms),
            u64::from(d.session_timeout_ms),
        ),
        (
            "message-delay-ms-max",
            options.message_delay_ms_max,
            d.message_delay_ms_max,
        ),
        (
            "crashes-max",
            u64::from(options.crashes_max),
            u64::from(d.crashes_max),
        ),
        (
            "disconnects-max",
            u64::from(options.disconnects_max),
            u64::from(d.disconnects_max),
        ),
        (
            "kills-max",
            u64::from(options.kills_max),
            u64::from(d.kills_max),
        ),
        (
            "expiries-max",
            u64::from(options.expiries_max),
            u64::from(d.expiries_max),
        ),
        (
            "server-restarts-max",
            u64::from(options.server_restarts_max),
            u64::from(d.server_restarts_max),
        ),
        (
            "stalls-max",
            u64::from(options.stalls_max),
            u64::from(d.stalls_max),
        ),
        (
            "fault-per-mille",
            u64::from(options.fault_per_mille),
            u64::from(d.fault_per_mille),
        ),
        (
            "repair-per-mille",
            u64::from(options.repair_per_mille),
            u64::from(d.repair_per_mille),
        ),
        (
            "write-fault-per-mille",
            u64::from(options.write_fault_per_mille),
            u64::from(d.write_fault_per_mille),
        ),
        (
            "notify-fault-per-mille",
            u64::from(options.notify_fault_per_mille),
            u64::from(d.notify_fault_per_mille),
        ),
        (
            "leader-fault-per-mille",
            u64::from(options.leader_fault_per_mille),
            u64::from(d.leader_fault_per_mille),
        ),
        (
            "pct-depth",
            u64::from(options.pct_depth),
            u64::from(d.pct_depth),
        ),
        (
            "sites-one-in",
            u64::from(options.sites_one_in),
            u64::from(d.sites_one_in),
        ),
        (
            "steps-max",
            u64::from(options.steps_max),
            u64::from(d.steps_max),
        ),
        (
            "liveness-steps-max",
            u64::from(options.liveness_steps_max),
            u64::from(d.liveness_steps_max),
        ),
    ];
    for (name, v, default) in numbers {
        add(name, v != default, v.to_string());
    }
    let order = match options.child_order {
        ChildOrder::Java => "java",
        ChildOrder::Sorted => "sorted",
        ChildOrder::Shuffled { .. } => "shuffled",
    };
    add(
        "child-order",
        options.child_order != d.child_order,
        order.into(),
    );
    let policy = match options.assign_policy {
        AssignPolicy::RoundRobin => "round-robin",
        AssignPolicy::LeastLoaded => "least-loaded",
        AssignPolicy::Random => "random",
    };
    add(
        "assign-policy",
        options.assign_policy != d.assign_policy,
        policy.into(),
    );
    for (field, v) in options.shape.given() {
        add(field.trim_start_matches("shape."), true, v.to_string());
    }
    if options.buggify {
        f.push_str(" --buggify");
    }
    if options.at_least_once {
        f.push_str(" --at-least-once");
    }
    for u in &options.unchecked {
        f.push_str(&format!(" --uncheck {u:?}"));
    }
    f
}

/// Arguments of `zksim simulate`.
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// The recipe (`zksim recipes` lists them).
    #[arg(long, default_value = "fixed")]
    pub recipe: String,
    /// Seeds to run, `A..B` with B excluded, at most 1000000000 of them [default: 0..1000].
    #[arg(long, conflicts_with = "seed")]
    pub seeds: Option<SeedRange>,
    /// One seed, at most 18446744073709551614 (2^64 - 2).
    #[arg(long, value_parser = ranged!(u64, 0, SeedRange::SEED_MAX))]
    pub seed: Option<u64>,
    /// Draw the fault knobs from each seed (swarm testing): session timeout, message delay,
    /// fault budgets (stalls too), fault and repair rates, buggify, the assign policy,
    /// faults at protocol points and the share of them active, and the PCT depth, each
    /// refused as a flag beside it; the other flags apply.
    #[arg(long)]
    pub swarm: bool,
    /// Write the trace of the seed (or of the first failing seed of a range) to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Run only the I-th (from 0) of N interleaved slices of the seeds, `I/N` with N at most
    /// 100000: seeds A+I, A+I+N, ... of `--seeds A..B`; `zksim merge` adds the shards'
    /// `--json` summaries up to the whole range's.
    #[arg(long, value_name = "I/N", conflicts_with = "seed")]
    pub shard: Option<Shard>,
    /// Count coverage: for each protocol point (a process's write, by operation and path,
    /// each part with a digit as `*`), in how many runs the server handled it and in how
    /// many a fault of that process came right after it; the same for each notification
    /// point (a watch notification queued to a process, by event type and path). The
    /// sometimes-properties are always counted.
    #[arg(long)]
    pub coverage: bool,
    /// Print a machine-readable summary.
    #[arg(long)]
    pub json: bool,
    /// Worker threads, 1 to 256 (results do not depend on it).
    #[arg(long, default_value_t = default_jobs(), value_parser = parse_threads)]
    pub jobs: usize,
    /// The knobs.
    #[command(flatten)]
    pub knobs: Knobs,
}

impl SimulateArgs {
    /// `zksim simulate --recipe fixed --seeds 0..1000 --swarm`, the default job's second half.
    pub fn default_run() -> Self {
        SimulateArgs {
            recipe: "fixed".into(),
            seeds: Some(SeedRange {
                start: 0,
                end: 1000,
            }),
            seed: None,
            swarm: true,
            trace: None,
            shard: None,
            coverage: false,
            json: false,
            jobs: default_jobs(),
            knobs: Knobs::default(),
        }
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A failing seed in the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The properties violated.
    pub violations: Vec<String>,
    /// The command that reproduces it, trace included.
    pub replay: String,
}

/// `zksim simulate --json`: what the runs add up to, and what ran (the recipe, the options,
/// the seeds), so `zksim merge` can tell which shards' summaries make up one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// The recipe.
    pub recipe: String,
    /// Whether the fault knobs were drawn from each seed.
    pub swarm: bool,
    /// The options (with `swarm`, those the seeds' draws start from).
    pub options: Options,
    /// First seed.
    pub seed_start: u64,
    /// One past the last seed.
    pub seed_end: u64,
    /// The slice of the range that ran, when `--shard` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Runs made.
    pub runs: u64,
    /// Steps over all runs.
    pub steps: u64,
    /// Events over all runs.
    pub events: u64,
    /// Runs that violated a property.
    pub failures: u64,
    /// Those runs, the first 10,000 of them.
    pub failed: Vec<Failure>,
    /// For each sometimes-property, in how many runs it was reached.
    pub reached: BTreeMap<String, u64>,
    /// With `--coverage`: for each protocol point, in how many runs it was written and had a
    /// fault right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

/// What a range of runs adds up to: counts, the sometimes-properties reached, and the first
/// [`Tally::FAILED_KEPT_MAX`] failing seeds (a range of a billion seeds of a mutant would not
/// fit in memory otherwise).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Runs made.
    pub runs: u64,
    /// Steps over all runs.
    pub steps: u64,
    /// Events over all runs.
    pub events: u64,
    /// Runs that violated a property.
    pub failures: u64,
    /// The first failing seeds, in seed order, with the properties each violated.
    pub failed: Vec<(u64, Vec<String>)>,
    /// For each sometimes-property, in how many runs it was reached.
    pub reached: BTreeMap<String, u64>,
    /// The protocol points reached and faulted after, when kept (`--coverage`).
    pub coverage: Option<Coverage>,
}

impl Tally {
    /// The most failing seeds kept (and listed by `--json`); `failures` counts them all.
    pub const FAILED_KEPT_MAX: usize = 10_000;

    /// An empty tally, keeping coverage or not.
    pub fn new(cover: bool) -> Self {
        Tally {
            coverage: cover.then(Coverage::default),
            ..Tally::default()
        }
    }

    /// Adds one run.
    pub fn add(&mut self, o: &Outcome) {
        self.runs += 1;
        if let Some(coverage) = &mut self.coverage {
            coverage.add(&o.coverage);
        }
        self.steps += o.end.steps;
        self.events += o.end.events;
        // Looked up before inserting: a name is cloned once a range, not once a run.
        for (names, n) in [(&o.end.unreached, 0), (&o.end.reached, 1)] {
            for name in names {
                match self.reached.get_mut(name) {
                    Some(count) => *count += n,
                    None => {
                        self.reached.insert(name.clone(), n);
                    }
                }
            }
        }
        if !o.end.violations.is_empty() {
            self.failures += 1;
            if self.failed.len() < Self::FAILED_KEPT_MAX {
                let names = o.end.violations.iter().map(|v| v.property.clone());
                self.failed.push((o.seed, names.collect()));
            }
        }
    }

    /// Adds the runs of later seeds.
    pub fn merge(&mut self, later: Tally) {
        self.runs += later.runs;
        self.steps += later.steps;
        self.events += later.events;
        self.failures += later.failures;
        let room = Self::FAILED_KEPT_MAX - self.failed.len();
        self.failed.extend(later.failed.into_iter().take(room));
        for (name, n) in later.reached {
            *self.reached.entry(name).or_insert(0) += n;
        }
        if let (Some(all), Some(more)) = (&mut self.coverage, later.coverage) {
            all.merge(more).expect("a range's counts fit in u64");
        }
    }
}

/// How far a range of seeds has got, shared by the threads running it: seeds run and seeds
/// failed so far (for a progress line and for what an interruption prints).
#[derive(Debug, Default)]
pub struct SeedsDone {
    /// Seeds run.
    pub runs: std::sync::atomic::AtomicU64,
    /// Seeds that violated a property.
    pub failures: std::sync::atomic::AtomicU64,
}

impl SeedsDone {
    fn add(&self, failed: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.runs.fetch_add(1, Relaxed);
        if failed {
            self.failures.fetch_add(1, Relaxed);
        }
    }

    /// Seeds run and failed so far.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.runs.load(Relaxed), self.failures.load(Relaxed))
    }
}

/// The seeds a range's runs take: a shard of the range (all of it, `0/1`), and whether their
/// coverage is kept.
#[derive(Clone, Copy, Debug)]
pub struct Seeds {
    /// The range.
    pub range: SeedRange,
    /// The slice of it that runs.
    pub shard: Shard,
    /// Whether each run's coverage is kept ([`Tally::coverage`]).
    pub cover: bool,
}

/// Runs the seeds of `shard`'s slice of `range` on `jobs` threads, each a contiguous part of
/// the slice; the tally is the same whatever the threads did. Memory does not grow with the
/// range. Each seed run is counted in `done` as it ends.
pub fn simulate_range(
    recipe: &Recipe,
    options: &Options,
    seeds: Seeds,
    swarm: bool,
    jobs: usize,
    done: &SeedsDone,
) -> Result<Tally, CliError> {
    let Seeds {
        range,
        shard,
        cover,
    } = seeds;
    let len = shard.len(range);
    let jobs = (jobs.clamp(1, THREADS_MAX) as u64).clamp(1, len.max(1));
    let chunk = len.div_ceil(jobs).max(1);
    // Parts of the slice, by the index of a seed in it.
    let parts: Vec<(u64, u64)> = (0..jobs)
        .map(|i| ((i * chunk).min(len), ((i + 1) * chunk).min(len)))
        .filter(|(a, b)| a < b)
        .collect();
    let results: Vec<Result<Tally, CliError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|&(a, b)| {
                scope.spawn(move || {
                    let recipe = recipes::find(recipe.name)?;
                    let mut tally = Tally::new(cover);
                    for k in a..b {
                        let seed = shard.nth(range, k);
                        let outcome = if cover {
                            run::simulate_covered(&recipe, options, seed, swarm)?
                        } else {
                            run::simulate(&recipe, options, seed, swarm, false)?
                        };
                        done.add(!outcome.end.violations.is_empty());
                        tally.add(&outcome);
                    }
                    Ok(tally)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });
    let mut all = Tally::new(cover);
    for r in results {
        all.merge(r?);
    }
    Ok(all)
}

/// Runs `zksim simulate`; `Ok(false)` when a property was violated.
pub fn simulate(args: &SimulateArgs) -> Result<bool, CliError> {
    if let Some(path) = &args.trace {
        files::check_outputs(&[("--trace", path)], &[])?;
    }
    let recipe = recipes::find(&args.recipe)?;
    let range = match (args.seeds, args.seed) {
        (Some(r), _) => r,
        (None, Some(s)) => SeedRange {
            start: s,
            end: s.checked_add(1).ok_or_else(|| {
                format!("--seed: {s} is over the limit of {}", SeedRange::SEED_MAX)
            })?,
        },
        (None, None) => SeedRange {
            start: 0,
            end: 1000,
        },
    };
    args.knobs.refuse_drawn(args.swarm)?;
    let options = args.knobs.options();
    recipes::validate(recipe.name, &options).map_err(|e| e.as_flag())?;
    let shard = args.shard.unwrap_or_default();
    if args.trace.is_some() && shard.len(range) == 0 {
        return Err(format!(
            "--trace: shard {shard} of seeds {}..{} holds no seed (the range has {}), so \
             there is no run to write",
            range.start,
            range.end,
            count(range.len(), "seed", "seeds")
        )
        .into());
    }
    let done = SeedsDone::default();
    let tally = with_progress(range, args.shard, &done, || {
        let seeds = Seeds {
            range,
            shard,
            cover: args.coverage,
        };
        simulate_range(&recipe, &options, seeds, args.swarm, args.jobs, &done)
    })?;
    let summary = summarize(&recipe, args, &options, range, tally);
    if let Some(path) = &args.trace {
        let first = shard.nth(range, 0);
        let seed = summary.failed.first().map_or(first, |f| f.seed);
        if summary.failed.is_empty() && shard.len(range) > 1 {
            eprintln!("no seed failed; writing the trace of seed {seed}");
        }
        let outcome = run::simulate(&recipe, &options, seed, args.swarm, true)?;
        files::write(path, outcome.text.as_deref().unwrap_or_default())?;
    }
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print_summary(&summary);
    }
    Ok(summary.failures == 0)
}

/// Runs `work` with a progress line on standard error (drawn only when it is a terminal, so
/// scripts and CI see nothing of it) and, for an interruption, a status saying how far the
/// range (or its shard) got.
fn with_progress<T>(
    range: SeedRange,
    shard: Option<Shard>,
    done: &SeedsDone,
    work: impl FnOnce() -> T,
) -> T {
    let total = shard.unwrap_or_default().len(range);
    let status = |(runs, failures): (u64, u64)| {
        format!(
            "{runs} of {} run ({}), {} so far",
            count(total, "seed", "seeds"),
            seeds_run(range, shard),
            count(failures, "failure", "failures")
        )
    };
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} seeds, {msg}, eta {eta}")
            .expect("a valid template"),
    );
    // Dropping the sender wakes the drawing thread at once when the work is done.
    let (finished, wait) = std::sync::mpsc::channel::<()>();
    let result = std::thread::scope(|scope| {
        let bar = &bar;
        scope.spawn(move || loop {
            // Redrawn four times a second from the shared counts, so the seeds' threads
            // never wait on the terminal.
            let (runs, failures) = done.get();
            crate::interrupt::set_status(Some(status((runs, failures))));
            bar.set_position(runs);
            bar.set_message(count(failures, "failure", "failures"));
            if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                wait.recv_timeout(std::time::Duration::from_millis(250))
            {
                break;
            }
        });
        let result = work();
        drop(finished);
        result
    });
    bar.finish_and_clear();
    crate::interrupt::set_status(None);
    result
}

fn summarize(
    recipe: &Recipe,
    args: &SimulateArgs,
    options: &Options,
    range: SeedRange,
    tally: Tally,
) -> Summary {
    let failed: Vec<Failure> = tally
        .failed
        .into_iter()
        .map(|(seed, violations)| Failure {
            seed,
            violations,
            replay: format!(
                "zksim simulate --recipe {} --seed {}{}{} --trace seed-{}.jsonl",
                recipe.name,
                seed,
                if args.swarm { " --swarm" } else { "" },
                replay_flags(options),
                seed
            ),
        })
        .collect();
    Summary {
        recipe: recipe.name.into(),
        swarm: args.swarm,
        options: options.clone(),
        seed_start: range.start,
        seed_end: range.end,
        shard: args.shard,
        runs: tally.runs,
        steps: tally.steps,
        events: tally.events,
        failures: tally.failures,
        failed,
        reached: tally.reached,
        coverage: tally.coverage,
    }
}

/// Which seeds ran, as the summary's first line says them: `seeds 0..1000`, or `seeds
/// 0..1000, shard 1/4`.
fn seeds_run(range: SeedRange, shard: Option<Shard>) -> String {
    match shard {
        Some(shard) => format!("seeds {}..{}, shard {shard}", range.start, range.end),
        None => format!("seeds {}..{}", range.start, range.end),
    }
}

/// Prints the protocol points of `--coverage`, one a line: in how many of the `runs` each was
/// written, and in how many a fault of its process came right after it, by kind; then the
/// notification points the same way.
fn print_coverage(coverage: &Coverage, runs: u64) {
    crate::say!(
        "  coverage: {} written, {} with a fault of the process right after; {} queued, {} \
         with a fault right after",
        count(coverage.points.len(), "protocol point", "protocol points"),
        coverage.faulted(),
        count(
            coverage.notices.len(),
            "notification point",
            "notification points"
        ),
        coverage.notices_faulted()
    );
    let label = |site: &zksim_sim::coverage::Site| format!("{} {}", site.process, site.write);
    let width = coverage
        .points
        .keys()
        .chain(coverage.notices.keys())
        .map(|s| label(s).len())
        .max()
        .unwrap_or(0);
    let after = |c: &zksim_sim::coverage::Counts| {
        if c.faulted == 0 {
            return "never a fault right after".to_string();
        }
        let kinds: Vec<String> = [
            (c.disconnected, "disconnected"),
            (c.crashed, "crashed"),
            (c.killed, "killed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| format!("{kind} {n}"))
        .collect();
        format!(
            "a fault right after in {} ({})",
            c.faulted,
            kinds.join(", ")
        )
    };
    for (site, c) in &coverage.points {
        crate::say!(
            "  point  {:<width$} written in {}/{runs} {}, {}",
            label(site),
            c.written,
            noun(runs, "run", "runs"),
            after(c)
        );
    }
    for (site, c) in &coverage.notices {
        crate::say!(
            "  notice {:<width$} queued in {}/{runs} {}, {}",
            label(site),
            c.written,
            noun(runs, "run", "runs"),
            after(c)
        );
    }
}

/// Prints a summary as `simulate` does without `--json` (and `merge` for the shards').
pub fn print_summary(s: &Summary) {
    let range = SeedRange {
        start: s.seed_start,
        end: s.seed_end,
    };
    crate::say!(
        "simulate {}: {} ({}), {}, {}, {}",
        s.recipe,
        count(s.runs, "run", "runs"),
        seeds_run(range, s.shard),
        count(s.steps, "step", "steps"),
        count(s.events, "event", "events"),
        count(s.failures, "failure", "failures")
    );
    for (name, n) in &s.reached {
        crate::say!(
            "  sometimes {:<50} reached in {n}/{} {}",
            format!("{name:?}"),
            s.runs,
            noun(s.runs, "run", "runs")
        );
    }
    if let Some(coverage) = &s.coverage {
        print_coverage(coverage, s.runs);
    }
    for f in s.failed.iter().take(20) {
        crate::say!("FAIL seed {}: violated {}", f.seed, f.violations.join("; "));
        crate::say!("  reproduce: {}", f.replay);
    }
    if s.failures > 20 {
        let listed = if s.failures as usize > Tally::FAILED_KEPT_MAX {
            format!("--json lists the first {}", Tally::FAILED_KEPT_MAX)
        } else {
            "--json lists them all".to_string()
        };
        crate::say!(
            "... and {} more ({listed})",
            count(s.failures - 20, "failing seed", "failing seeds")
        );
    }
}

/// Arguments of `zksim replay`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReplayArgs {
    /// The trace to replay.
    pub trace: PathBuf,
}

/// Runs `zksim replay`: `Ok(true)` when the replay is byte-identical.
pub fn replay(args: &ReplayArgs) -> Result<bool, CliError> {
    let text = files::read_text(&args.trace)?;
    // A file that is no trace, or one of a recipe this build does not have, is bad input (exit
    // 2, as for `render` and `shrink`); only a trace that replays differently is a failure.
    let header = trace::parse(&text)
        .map_err(|e| CliError::in_file(&args.trace, e))?
        .header;
    let recipe = recipes::find(&header.recipe).map_err(|e| CliError::in_file(&args.trace, e))?;
    match run::replay_with(&recipe, &text) {
        Ok(replayed) => {
            let t = trace::parse(&replayed).map_err(|e| CliError::in_file(&args.trace, e))?;
            let end = t.end.expect("a replay ends");
            let drawn = match header.policy {
                Some(trace::Policy::Simulator) => {
                    format!(", each action the one seed {} draws", header.seed)
                }
                None => String::new(),
            };
            crate::say!(
                "{}: replayed {}, byte-identical{drawn}; {}",
                args.trace.display(),
                count(end.steps, "step", "steps"),
                if end.violations.is_empty() {
                    "every property held".to_string()
                } else {
                    format!(
                        "violated: {}",
                        end.violations
                            .iter()
                            .map(|v| v.property.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            );
            Ok(true)
        }
        Err(e) => {
            eprintln!("{}: {e}", args.trace.display());
            Ok(false)
        }
    }
}

/// Arguments of `zksim render`.
#[derive(Clone, Debug, clap::Args)]
pub struct RenderArgs {
    /// The trace to render.
    pub trace: PathBuf,
    /// Write a self-contained HTML page (a swimlane timeline, the znode tree at each step).
    #[arg(long, value_name = "OUT.html", conflicts_with = "mermaid")]
    pub html: Option<PathBuf>,
    /// Print a Mermaid sequenceDiagram instead of the transcript.
    #[arg(long)]
    pub mermaid: bool,
}

/// Runs `zksim render`: prints the trace as a zkCli-like transcript, a Mermaid diagram, or
/// writes it as an HTML page.
pub fn render_cmd(args: &RenderArgs) -> Result<bool, CliError> {
    if let Some(out) = &args.html {
        files::check_outputs(&[("--html", out)], &[&args.trace])?;
    }
    let text = files::read_text(&args.trace)?;
    let t = trace::parse(&text).map_err(|e| CliError::in_file(&args.trace, e))?;
    if let Some(out) = &args.html {
        files::write(out, crate::html::page(&t))?;
        crate::say!(
            "{}: {} -> {}",
            args.trace.display(),
            count(t.steps_taken(), "step", "steps"),
            out.display()
        );
    } else if args.mermaid {
        crate::out::text(&crate::html::mermaid::mermaid(&t));
    } else {
        crate::out::text(&render::render(&t));
    }
    Ok(true)
}

/// `zksim recipes`.
#[derive(Clone, Debug, clap::Args)]
pub struct RecipesArgs {
    /// Machine-readable.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct RecipeInfo {
    name: &'static str,
    kind: recipes::RecipeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    breaks: Option<&'static str>,
    about: &'static str,
}

/// Lists the built-in recipes.
pub fn list_recipes(args: &RecipesArgs) -> Result<bool, CliError> {
    let infos: Vec<RecipeInfo> = recipes::all()
        .into_iter()
        .map(|r| RecipeInfo {
            name: r.name,
            kind: r.kind,
            breaks: r.breaks,
            about: r.about,
        })
        .collect();
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&infos).map_err(|e| e.to_string())?
        );
    } else {
        for r in infos {
            let kind = match r.breaks {
                Some(p) => format!("mutant, breaks {p:?}"),
                None => "variant".into(),
            };
            crate::say!("{:<28} {kind}\n    {}", r.name, r.about);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{replay_flags, Knobs, SeedRange, Shard};
    use zksim_model::children::ChildOrder;
    use zksim_model::recipes::cluster::AssignPolicy;
    use zksim_sim::options::{Options, TimeMode};

    // Goal: the default a knob's help names is the one a run takes (`Options::default`), for
    // every numeric knob: the help is written by hand and would drift when a default moves.
    #[test]
    fn the_help_names_the_defaults_a_run_takes() {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            knobs: Knobs,
        }
        let defaults = serde_json::to_value(Options::default()).unwrap();
        let command = <Wrap as clap::CommandFactory>::command();
        let mut checked = 0;
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(value) = defaults.get(id).filter(|v| v.is_u64()) else {
                continue;
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains(&format!("[default: {value}]")),
                "--{id}: the help says {help:?}, the default is {value}"
            );
            checked += 1;
        }
        assert!(checked >= 15, "{checked} knobs checked");
    }

    // Goal: the flags a reproduce command gives make the options that ran, for every knob a
    // flag sets (a knob the list forgets would make a failure pass when reproduced).
    #[test]
    fn the_reproduce_flags_make_the_options_that_ran() {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            knobs: Knobs,
        }
        let d = Options::default();
        let ran = Options {
            time: TimeMode::Abstract,
            tick_ms: d.tick_ms + 1,
            session_timeout_ms: d.session_timeout_ms + 1,
            message_delay_ms_max: d.message_delay_ms_max + 1,
            crashes_max: d.crashes_max + 1,
            kills_max: d.kills_max + 1,
            disconnects_max: d.disconnects_max + 1,
            expiries_max: d.expiries_max + 1,
            server_restarts_max: d.server_restarts_max + 1,
            stalls_max: d.stalls_max + 1,
            fault_per_mille: d.fault_per_mille + 1,
            repair_per_mille: d.repair_per_mille + 1,
            write_fault_per_mille: d.write_fault_per_mille - 1,
            notify_fault_per_mille: d.notify_fault_per_mille - 1,
            leader_fault_per_mille: d.leader_fault_per_mille + 1,
            pct_depth: d.pct_depth + 1,
            sites_one_in: d.sites_one_in + 1,
            steps_max: d.steps_max + 1,
            liveness_steps_max: d.liveness_steps_max + 1,
            child_order: ChildOrder::Sorted,
            assign_policy: AssignPolicy::LeastLoaded,
            ..d.clone()
        };
        let flags = replay_flags(&ran);
        let args = std::iter::once("zksim").chain(flags.split_whitespace());
        let parsed = <Wrap as clap::Parser>::try_parse_from(args).expect("the flags parse");
        assert_eq!(parsed.knobs.options(), ran, "flags: {flags}");
    }

    // The N shards of a range hold each of its seeds once: the seeds `nth` gives are those
    // `holds` accepts, `len` of them, in order; the shards together are the range.
    #[test]
    fn the_shards_of_a_range_hold_each_seed_once() {
        for (start, end) in [(0, 1), (0, 10), (7, 90), (3, 5)] {
            let range = SeedRange { start, end };
            for count in [1, 2, 3, 4, 7, 100] {
                let mut all = Vec::new();
                for index in 0..count {
                    let shard = Shard { index, count };
                    let seeds: Vec<u64> =
                        (0..shard.len(range)).map(|k| shard.nth(range, k)).collect();
                    let held: Vec<u64> = (start..end).filter(|&s| shard.holds(range, s)).collect();
                    assert_eq!(seeds, held, "{shard} of {start}..{end}");
                    all.extend(seeds);
                }
                all.sort_unstable();
                assert_eq!(all, (start..end).collect::<Vec<u64>>(), "{count} shards");
            }
        }
    }

    // `I/N` parses when I is below N and N in 1..=COUNT_MAX; its Display is the same text.
    #[test]
    fn a_shard_is_written_i_slash_n() {
        let shard: Shard = "3/4".parse().unwrap();
        assert_eq!(shard, Shard { index: 3, count: 4 });
        assert_eq!(shard.to_string(), "3/4");
        assert_eq!("0/1".parse::<Shard>().unwrap(), Shard::default());
        let max = format!("0/{}", Shard::COUNT_MAX);
        assert!(max.parse::<Shard>().is_ok());
        for bad in ["4/4", "0/0", "1", "/", "1/", "/1", "x/2", "1/2/3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
