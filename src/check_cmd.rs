//! `zksim check`: exhaustive exploration of a recipe within bounds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use zksim_sim::explore::{self, Limits, Progress, Report, Search, Stop, Strategy};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::plural::count;
use zksim_sim::{recipes, run};

use crate::exit::CliError;
use crate::files;
use crate::sim_cmd::{parse_threads, ranged, ModelKnobs};

/// Arguments of `zksim check`.
#[derive(Clone, Debug, clap::Args)]
pub struct CheckArgs {
    /// The recipe.
    #[arg(long, default_value = "election")]
    pub recipe: String,
    /// Distinct states to visit at most.
    #[arg(long, default_value_t = 2_000_000)]
    pub states_max: u64,
    /// Depth to explore at most.
    #[arg(long, default_value_t = 1000)]
    pub depth_max: u32,
    /// States waiting to be expanded at most (they hold whole worlds).
    #[arg(long, default_value_t = 10_000_000)]
    pub frontier_max: u64,
    /// Resident memory at most, in MiB; the search stops cleanly over it.
    #[arg(long, default_value_t = 16_384)]
    pub memory_max_mib: u64,
    /// Wall-clock seconds at most, 1 to 10000000; the search stops cleanly there
    /// (`incomplete`, exit 3) [default: no limit].
    #[arg(long, value_parser = crate::sim_cmd::ranged!(u64, 1, 10_000_000))]
    pub seconds_max: Option<u64>,
    /// `bfs` (shortest counterexamples) or `dfs`.
    #[arg(long, default_value = "bfs", value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// Threads, 1 to 256 (breadth-first; the result is the same for any number).
    #[arg(long, default_value_t = default_threads(), value_parser = parse_threads)]
    pub threads: usize,
    /// Skip the search for fault-free cycles that never complete (saves 4 bytes a state).
    #[arg(long)]
    pub no_liveness: bool,
    /// Explore every interleaving: no partial-order reduction (which applies only where every
    /// safety property reads the shared state alone; the cluster's do).
    #[arg(long)]
    pub no_reduction: bool,
    /// Keep zxids in every state's fingerprint (by default a state keeps only what a
    /// reconnect's SetWatches can compare, and nothing once no client can reconnect: the
    /// built-in recipes read no zxid).
    #[arg(long)]
    pub exact_zxids: bool,
    /// Keep every xid (request number) in every state's fingerprint (by default only their
    /// order is kept: states that differ in how many requests a client has numbered are one).
    #[arg(long)]
    pub exact_xids: bool,
    /// Write the state graph as Graphviz DOT (small runs: at most --graph-states-max states).
    #[arg(long)]
    pub dot: Option<PathBuf>,
    /// Write the state graph as SVG, drawn by Graphviz's `dot` (which must be installed).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// The most states a graph for --dot or --svg may have, 1 to 100000 (a search that
    /// finds more stops there, incomplete, and writes no graph).
    #[arg(long, default_value_t = 5_000, value_parser = ranged!(u64, 1, CheckArgs::GRAPH_STATES_MAX))]
    pub graph_states_max: u64,
    /// Write the counterexample, if any, as a trace to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print a machine-readable summary.
    #[arg(long)]
    pub json: bool,
    /// Crashes in a run, at most 10000 (a crashed process restarts with a new session).
    #[arg(long, default_value_t = 0, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub crashes_max: u32,
    /// Processes killed for good in a run, at most 10000.
    #[arg(long, default_value_t = 0, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub kills_max: u32,
    /// Connections dropped in a run, at most 10000.
    #[arg(long, default_value_t = 1, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub disconnects_max: u32,
    /// Silent sessions expired in a run, at most 10000.
    #[arg(long, default_value_t = 0, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub expiries_max: u32,
    /// Server restarts on the same data directory in a run, at most 10000.
    #[arg(long, default_value_t = 0, value_parser = ranged!(u32, 0, Options::FAULTS_MAX))]
    pub server_restarts_max: u32,
    /// The knobs of the model (time is always abstract here).
    #[command(flatten)]
    pub model: ModelKnobs,
    /// The shape searched.
    #[command(flatten)]
    pub shape: CheckShape,
    /// The simulator's flags, which mean nothing here.
    #[command(flatten)]
    pub refused: SimulatorOnly,
}

/// The shape `check` searches: small enough by default that a bare `zksim check` verifies in
/// well under ten seconds. Each field left out takes check's default, not the recipe's.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CheckShape {
    /// Master candidates (the election's candidates), at most 64 [default: 2].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub masters: Option<u32>,
    /// Workers, at most 64 (cluster recipes only) [default: 1].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub workers: Option<u32>,
    /// Clients, at most 64 (cluster recipes only) [default: 0].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::PROCESSES_MAX))]
    pub clients: Option<u32>,
    /// Tasks per client, at most 1000 (cluster recipes only) [default: 1].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::TASKS_MAX))]
    pub tasks: Option<u32>,
    /// Tasks already queued when the cluster starts (no client waits for them), at most 1000
    /// (cluster recipes only) [default: 1 without --clients, else 0].
    #[arg(long, value_parser = ranged!(u32, 0, Shape::TASKS_MAX))]
    pub queued: Option<u32>,
}

impl CheckShape {
    /// `--masters` when not given.
    pub const MASTERS: u32 = 2;
    /// `--workers` when not given.
    pub const WORKERS: u32 = 1;
    /// `--clients` when not given.
    pub const CLIENTS: u32 = 0;
    /// `--tasks` when not given.
    pub const TASKS: u32 = 1;
    /// `--queued` when neither it nor `--clients` is given: the cluster's work, without the
    /// costliest process to search (a client).
    pub const QUEUED: u32 = 1;

    /// The shape searched: the flags given (refused where the recipe has no such role), the
    /// rest check's defaults.
    pub fn shape(&self, recipe: &str) -> Result<Shape, String> {
        let given = Shape {
            masters: self.masters,
            workers: self.workers,
            clients: self.clients,
            tasks: self.tasks,
            queued: self.queued,
        };
        recipes::check_shape(recipe, &given).map_err(|e| e.as_flag())?;
        let cluster = recipes::shape_fields(recipe).is_some_and(|f| f.contains(&"workers"));
        let masters = Some(given.masters.unwrap_or(Self::MASTERS));
        if !cluster {
            return Ok(Shape { masters, ..given });
        }
        // No queued task is the recipe's default too, and is left unsaid (in a trace's
        // header, say).
        let queued = given
            .queued
            .or(given.clients.is_none().then_some(Self::QUEUED));
        Ok(Shape {
            masters,
            workers: Some(given.workers.unwrap_or(Self::WORKERS)),
            clients: Some(given.clients.unwrap_or(Self::CLIENTS)),
            tasks: Some(given.tasks.unwrap_or(Self::TASKS)),
            queued,
        })
    }
}

/// The simulator's flags that mean nothing to an exhaustive search: each is refused (exit 2)
/// with the reason, rather than silently ignored. Hidden from `--help`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SimulatorOnly {
    #[arg(long, hide = true, value_parser = abstracted)]
    time: Option<Refused>,
    #[arg(long, hide = true, value_parser = abstracted)]
    tick_ms: Option<Refused>,
    #[arg(long, hide = true, value_parser = abstracted)]
    session_timeout_ms: Option<Refused>,
    #[arg(long, hide = true, value_parser = abstracted)]
    message_delay_ms_max: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    fault_per_mille: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    repair_per_mille: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    write_fault_per_mille: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    notify_fault_per_mille: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    leader_fault_per_mille: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_schedule)]
    pct_depth: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_fault)]
    sites_one_in: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_step)]
    steps_max: Option<Refused>,
    #[arg(long, hide = true, value_parser = every_step)]
    liveness_steps_max: Option<Refused>,
    #[arg(long, hide = true, value_parser = no_seed)]
    seed: Option<Refused>,
    #[arg(long, hide = true, value_parser = no_seed)]
    seeds: Option<Refused>,
    #[arg(long, hide = true, num_args = 0, default_missing_value = "", value_parser = no_seed)]
    swarm: Option<Refused>,
    #[arg(long, hide = true, value_parser = threads_instead)]
    jobs: Option<Refused>,
}

/// The value of a refused flag: there never is one.
#[derive(Clone, Copy, Debug)]
pub struct Refused;

fn abstracted(_: &str) -> Result<Refused, String> {
    Err(
        "check abstracts time (a timer may fire and a silent session expire at any point), \
         so no clock setting means anything to it"
            .into(),
    )
}

fn every_fault(_: &str) -> Result<Refused, String> {
    Err(
        "check takes every fault the budgets allow at every point, not a chance of one: \
         bound them with --crashes-max, --kills-max, --disconnects-max, --expiries-max"
            .into(),
    )
}

fn every_step(_: &str) -> Result<Refused, String> {
    Err(
        "check follows every run to its end, not for a number of steps: \
         --depth-max bounds how deep it searches"
            .into(),
    )
}

fn every_schedule(_: &str) -> Result<Refused, String> {
    Err("check explores every schedule, not one drawn by priorities".into())
}

fn no_seed(_: &str) -> Result<Refused, String> {
    Err("check explores every interleaving, so it takes no seed".into())
}

fn threads_instead(_: &str) -> Result<Refused, String> {
    Err("check's threads are set with --threads".into())
}

impl CheckArgs {
    /// The most `--graph-states-max` allows: each state keeps its label, and Graphviz lays
    /// out a few thousand at best.
    pub const GRAPH_STATES_MAX: u64 = 100_000;

    /// The default job's exhaustive part: `fixed` with a backup master, a worker and a client
    /// with its task, one process killed for good (a failover, or a task that must move), every
    /// interleaving: about 4.2 million states, half a minute on two cores.
    pub fn default_run() -> Self {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: CheckArgs,
        }
        let flags = [
            "zksim",
            "--recipe",
            "fixed",
            "--masters",
            "2",
            "--workers",
            "1",
            "--clients",
            "1",
            "--tasks",
            "1",
            "--crashes-max",
            "0",
            "--kills-max",
            "1",
            "--disconnects-max",
            "0",
            "--expiries-max",
            "0",
            "--states-max",
            "20000000",
        ];
        <Wrap as clap::Parser>::parse_from(flags).args
    }

    /// The options searched: abstract time, the budgets, the model's knobs and the shape,
    /// each within the bounds of [`Options::validate`].
    pub fn options(&self) -> Result<Options, String> {
        let mut options = Options {
            time: TimeMode::Abstract,
            crashes_max: self.crashes_max,
            kills_max: self.kills_max,
            disconnects_max: self.disconnects_max,
            expiries_max: self.expiries_max,
            server_restarts_max: self.server_restarts_max,
            shape: self.shape.shape(&self.recipe)?,
            ..Options::default()
        };
        self.model.apply(&mut options);
        recipes::validate(&self.recipe, &options).map_err(|e| e.as_flag())?;
        Ok(options)
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    match s {
        "bfs" => Ok(Strategy::BreadthFirst),
        "dfs" => Ok(Strategy::DepthFirst),
        other => Err(format!("unknown strategy {other:?}: expected bfs or dfs")),
    }
}

/// `zksim check --json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The recipe.
    pub recipe: String,
    /// `verified`, `violated` or `incomplete`.
    pub verdict: &'static str,
    /// The property violated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Length of the counterexample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample_steps: Option<usize>,
    /// For a liveness cycle: the step after which the counterexample's cycle starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
    /// The limit that stopped an incomplete search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<&'static str>,
    /// Distinct states.
    pub states: u64,
    /// Transitions.
    pub transitions: u64,
    /// Deepest level.
    pub depth: u32,
    /// Threads used.
    pub threads: usize,
    /// Wall time.
    pub seconds: f64,
    /// Distinct states per second.
    pub states_per_s: f64,
    /// Bytes of the visited set and parent links (and liveness edges) per distinct state.
    pub bookkeeping_bytes_per_state: f64,
    /// Bytes of the visited set alone per distinct state.
    pub visited_bytes_per_state: f64,
    /// Whether partial-order reduction was on.
    pub reduction: bool,
    /// States expanded by one process's local steps alone.
    pub reduced_states: u64,
    /// Where the states come from: for each kind of action taken, its transitions and the
    /// distinct states it reached first.
    pub by_action: Vec<ByAction>,
    /// The estimated odds that a state was never expanded because its 64-bit fingerprint
    /// collided with another's (each of the transitions compared its fingerprint with those of
    /// at most `states` distinct states: transitions * states / 2^64, as TLC estimates it).
    pub fingerprint_collision_odds: f64,
    /// Each sometimes-property, with whether a transition searched reached it (a verified
    /// search that never reached one never ran what it names; see `Report::sometimes` for
    /// what partial-order reduction may put off).
    pub sometimes: Vec<Sometimes>,
}

/// A sometimes-property and whether the search reached it (`zksim check --json`).
#[derive(Debug, Serialize)]
pub struct Sometimes {
    /// Its name.
    pub property: &'static str,
    /// Whether some transition searched reached it.
    pub reached: bool,
}

/// One kind of action's share of a search (`zksim check --json`).
#[derive(Debug, Serialize)]
pub struct ByAction {
    /// The kind, as a trace spells it (`to_server`, `crash`, ...).
    pub action: &'static str,
    /// Transitions of this kind.
    pub transitions: u64,
    /// Distinct states it reached first.
    pub states: u64,
}

/// The odds of a missed state after `transitions` lookups among at most `states` 64-bit
/// fingerprints: each lookup meets a false match with probability at most `states / 2^64`.
pub fn collision_odds(states: u64, transitions: u64) -> f64 {
    (states as f64 * transitions as f64 / 2f64.powi(64)).min(1.0)
}

/// How a check ended, as its exit code says it: 0 verified, 1 violated, 3 incomplete (a limit
/// stopped it; 2 is bad input, as for every command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every reachable state within the budgets was searched and nothing failed.
    Verified,
    /// A property failed.
    Violated,
    /// A limit stopped the search before it found a violation: nothing is proved.
    Incomplete,
}

impl Verdict {
    /// How a search ended.
    pub fn of(report: &Report) -> Self {
        match (&report.violation, report.complete) {
            (Some(_), _) => Verdict::Violated,
            (None, true) => Verdict::Verified,
            (None, false) => Verdict::Incomplete,
        }
    }

    /// Its name, as the summary and `--json` print it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Violated => "violated",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Verified => 0,
            Verdict::Violated => 1,
            Verdict::Incomplete => 3,
        }
    }
}

/// Runs `zksim check`.
// It times the search; nothing explored depends on the clock.
#[allow(clippy::disallowed_methods)]
pub fn check(args: &CheckArgs) -> Result<Verdict, CliError> {
    let outputs: Vec<(&str, &Path)> = [
        ("--trace", &args.trace),
        ("--dot", &args.dot),
        ("--svg", &args.svg),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.as_deref().map(|p| (flag, p)))
    .collect();
    files::check_outputs(&outputs, &[])?;
    let recipe = recipes::find(&args.recipe)?;
    let options = args.options()?;
    // Depth-first search runs on one thread.
    let threads = match args.strategy {
        Strategy::BreadthFirst => args.threads,
        Strategy::DepthFirst => 1,
    };
    let (world, _) = recipe.world(&options, 0);
    let search = Search {
        limits: Limits {
            states_max: args.states_max,
            depth_max: args.depth_max,
            frontier_max: args.frontier_max,
            memory_max_bytes: args.memory_max_mib.saturating_mul(1 << 20),
            time_max: args.seconds_max.map(std::time::Duration::from_secs),
        },
        strategy: args.strategy,
        threads,
        liveness: !args.no_liveness,
        reduction: !args.no_reduction,
        forget_zxids: !args.exact_zxids,
        forget_xids: !args.exact_xids,
        terminals: false,
        graph_states_max: if args.dot.is_some() || args.svg.is_some() {
            args.graph_states_max
        } else {
            0
        },
    };
    let start = Instant::now();
    let bar = progress_bar();
    let limits = format!(
        "the limits: --states-max {}, --depth-max {}, --memory-max-mib {}",
        args.states_max, args.depth_max, args.memory_max_mib
    );
    let mut show = |p: &Progress| {
        interrupt_status(p, &limits);
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let resident = p
            .resident_bytes
            .map_or(String::new(), |b| format!(", {} MiB resident", b >> 20));
        bar.set_message(format!(
            "{} ({:.0}/s), {}, depth {}, {} MiB visited set{resident}",
            count(p.states, "state", "states"),
            p.states as f64 / secs,
            count(p.transitions, "transition", "transitions"),
            p.depth,
            p.bookkeeping_bytes >> 20
        ));
    };
    interrupt_status(&Progress::default(), &limits);
    let properties = recipe.properties();
    let report = explore::search_from(world, &properties, &search, &mut show);
    bar.finish_and_clear();
    crate::interrupt::set_status(None);
    let seconds = start.elapsed().as_secs_f64();
    if let (Some(v), Some(path)) = (&report.violation, &args.trace) {
        let outcome = run::run_actions(&recipe, &options, 0, v.path.clone())?;
        files::write(path, outcome.text.as_deref().unwrap_or_default())?;
    }
    // The verdict first: a graph not written (a limit stopped the search) is said after it,
    // and the exit code is the verdict's (3: incomplete).
    let unwritten = write_graph(args, &report)?;
    let summary = summarize(recipe.name, &report, threads, seconds);
    print_summary(&summary, &report, args, &options.shape)?;
    if let Some(why) = unwritten {
        // Standard error, so that --json's output stays one JSON document.
        eprintln!("{why}");
    }
    Ok(Verdict::of(&report))
}

/// Writes the state graph for --dot and --svg (its DOT made once). A search a limit stopped
/// has only part of the graph, so nothing is written then: returns what to say instead (the
/// files, the limit and how far the search got, how to raise it).
fn write_graph(args: &CheckArgs, report: &Report) -> Result<Option<String>, CliError> {
    let wanted: Vec<(&PathBuf, bool)> = [(&args.dot, false), (&args.svg, true)]
        .into_iter()
        .filter_map(|(path, svg)| path.as_ref().map(|p| (p, svg)))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let so_far = format!(
        "at {}, {}, depth {}",
        count(report.states, "state", "states"),
        count(report.transitions, "transition", "transitions"),
        report.depth
    );
    let why = report.stopped.and_then(|stop| {
        let limit = match stop {
            Stop::GraphStatesMax => args.graph_states_max,
            Stop::StatesMax => args.states_max,
            Stop::DepthMax => u64::from(args.depth_max),
            Stop::FrontierMax => args.frontier_max,
            Stop::MemoryMax => args.memory_max_mib,
            Stop::TimeMax => args.seconds_max.unwrap_or(0),
            Stop::Caller => {
                return Some(format!(
                    "the graph is incomplete: the search was stopped {so_far}"
                ))
            }
            // The graph is whole; only the liveness verdict is open.
            Stop::ReductionCycle => return None,
            Stop::ZxidsNeeded => {
                return Some(format!(
                    "the graph is incomplete: the search stopped {so_far}; run again with \
                     --exact-zxids"
                ))
            }
        };
        let raise = match stop {
            Stop::GraphStatesMax => format!(
                "--graph-states-max (at most {}) for the whole graph",
                CheckArgs::GRAPH_STATES_MAX
            ),
            _ => format!("--{} for the whole graph", stop.name()),
        };
        Some(format!(
            "the graph is incomplete: --{} {limit} stopped the search {so_far}; raise {raise}",
            stop.name()
        ))
    });
    if let Some(why) = why {
        let files: Vec<String> = wanted
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        return Ok(Some(format!("{}: not written: {why}", files.join(", "))));
    }
    let dot = report
        .graph
        .as_ref()
        .expect("a graph was asked for")
        .to_dot();
    for (path, svg) in wanted {
        let text = if svg { draw_svg(&dot)? } else { dot.clone() };
        files::write(path, &text)?;
    }
    Ok(None)
}

/// Graphviz's drawing of a DOT graph, as SVG.
fn draw_svg(dot: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "--svg needs Graphviz's dot ({e}): install it (Debian: apt-get install graphviz), \
                 or write --dot FILE and draw it elsewhere"
            )
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    // dot reads all of its input before it writes, so the write cannot deadlock.
    stdin
        .write_all(dot.as_bytes())
        .map_err(|e| format!("dot: {e}"))?;
    drop(stdin);
    let out = child.wait_with_output().map_err(|e| format!("dot: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("dot wrote no UTF-8: {e}"))
}

fn progress_bar() -> indicatif::ProgressBar {
    // indicatif draws on standard error only when it is a terminal, so scripts and CI see
    // nothing of it.
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

fn summarize(recipe: &str, report: &Report, threads: usize, seconds: f64) -> Summary {
    Summary {
        recipe: recipe.into(),
        verdict: Verdict::of(report).name(),
        property: report.violation.as_ref().map(|v| v.property.clone()),
        counterexample_steps: report.violation.as_ref().map(|v| v.path.len()),
        cycle_start: report.violation.as_ref().and_then(|v| v.cycle_start),
        stopped_by: report.stopped.map(|s| s.name()),
        states: report.states,
        transitions: report.transitions,
        depth: report.depth,
        threads,
        seconds,
        states_per_s: report.states as f64 / seconds.max(1e-9),
        bookkeeping_bytes_per_state: report.bookkeeping_bytes as f64 / report.states as f64,
        visited_bytes_per_state: report.visited_bytes as f64 / report.states as f64,
        reduction: report.reduction,
        reduced_states: report.reduced,
        by_action: report
            .by_kind
            .iter()
            .map(|k| ByAction {
                action: k.kind,
                transitions: k.transitions,
                states: k.states,
            })
            .collect(),
        fingerprint_collision_odds: collision_odds(report.states, report.transitions),
        sometimes: report
            .sometimes
            .iter()
            .map(|&(property, reached)| Sometimes { property, reached })
            .collect(),
    }
}

fn print_summary(
    summary: &Summary,
    report: &Report,
    args: &CheckArgs,
    shape: &Shape,
) -> Result<(), String> {
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(summary).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    crate::say!(
        "check {}: {} ({}, {}, depth {}, {:.2} s, {:.0} states/s, {})",
        summary.recipe,
        summary.verdict,
        count(summary.states, "state", "states"),
        count(summary.transitions, "transition", "transitions"),
        summary.depth,
        summary.seconds,
        summary.states_per_s,
        count(summary.threads, "thread", "threads"),
    );
    match report.stopped {
        Some(Stop::ReductionCycle) => crate::say!(
            "  the reduced graph has a fault-free cycle, so partial-order reduction cannot \
             judge liveness: run again with --no-reduction (or --no-liveness)"
        ),
        Some(Stop::ZxidsNeeded) => crate::say!(
            "  the server dropped a connection where zxids were forgotten, and its reconnect \
             compares them: run again with --exact-zxids"
        ),
        Some(stop) => {
            crate::say!(
                "  stopped by --{}: raise it, or tighten the fault budgets or the shape",
                stop.name()
            );
            // A client is the costliest process to search; a queued task gives the cluster
            // work without one.
            let cluster = recipes::cluster::recipes()
                .iter()
                .any(|r| r.name == args.recipe);
            if cluster && shape.clients != Some(0) {
                crate::say!(
                    "  (tasks queued instead of clients make a much smaller space: \
                     --clients 0 --queued 1)"
                );
            }
        }
        None => {}
    }
    // Below one in a million the odds are not worth a line (about 6 million states and
    // transitions each).
    if summary.fingerprint_collision_odds >= 1e-6 {
        crate::say!(
            "  fingerprints are 64 bits: the odds that a collision hid a state are about {:.1e}",
            summary.fingerprint_collision_odds
        );
    }
    if report.reduction {
        crate::say!(
            "  partial-order reduction: {} of {} expanded by one process's local steps",
            report.reduced,
            count(report.states, "state", "states")
        );
    }
    if let Some(v) = &report.violation {
        match v.cycle_start {
            Some(at) => crate::say!(
                "  violated {:?}: after {} the run enters a cycle of {} it can never leave",
                v.property,
                count(at, "step", "steps"),
                count(v.path.len() - at, "step", "steps")
            ),
            None => crate::say!(
                "  violated {:?} after {}",
                v.property,
                count(v.path.len(), "step", "steps")
            ),
        }
        if args.trace.is_none() {
            crate::say!("  add --trace FILE to write the counterexample, then zksim render FILE");
        }
    }
    Ok(())
}

/// What an interruption of the search prints: how far it got and the limits it ran under.
fn interrupt_status(p: &Progress, limits: &str) {
    crate::interrupt::set_status(Some(format!(
        "the search had visited {}, {}, depth {}; {limits}; nothing is proved",
        count(p.states, "state", "states"),
        count(p.transitions, "transition", "transitions"),
        p.depth
    )));
}

#[cfg(test)]
mod tests {
    use super::collision_odds;

    // The odds grow with states times transitions, and never pass 1.
    #[test]
    fn the_collision_odds_are_states_times_transitions_over_two_to_the_64() {
        assert_eq!(collision_odds(0, 0), 0.0);
        let million = collision_odds(1_000_000, 2_000_000);
        assert!((million - 2e12 / 2f64.powi(64)).abs() < 1e-15, "{million}");
        assert_eq!(collision_odds(1 << 32, 1 << 33), 1.0);
    }
}
