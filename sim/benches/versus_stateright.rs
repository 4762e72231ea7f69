//! zksim's explorer against Stateright's breadth-first checker, on the same world.
//!
//! The simulated [`World`] is wrapped as a [`stateright::Model`] (its states are worlds, its
//! actions the world's enabled actions, a successor is a clone stepped once), and each
//! configuration below is explored to completion by zksim's breadth-first search and by
//! Stateright's, each with 1 and with 2 threads. The table gives the distinct states and the
//! transitions of each, the distinct states a second of each, and the ratio of zksim's rate to
//! Stateright's at the same thread count (above 1: zksim is faster). Both take their actions
//! from [`zksim_sim::explore::actions`].
//!
//! Both explorers check the same properties, so they do comparable work: the recipe's
//! `Always` properties are Stateright `always` properties; its `Step` properties (which
//! Stateright has no notion of) are checked in `next_state` on the step's events; its
//! `Eventually` properties are checked, as zksim does, in terminal states once faults have
//! stopped (in `actions`, when there are none). `Sometimes` properties are left out of both:
//! zksim's explorer does not check them.
//!
//! It is also a check of both explorers: the distinct-state counts must be equal and no
//! property may fail (every configuration is a verified recipe); otherwise the bench says so
//! and exits non-zero. zksim's partial-order reduction and zxid forgetting are off there, so
//! both search the same graph.
//!
//! A second table gives the time to a verdict on the cluster: zksim as `zksim check` runs it
//! (both reductions on) against Stateright over every interleaving, which is stopped once it
//! has generated [`STATERIGHT_CAP`] states.
//!
//! Run it with
//!
//! ```sh
//! cargo bench -p zksim-sim --bench versus_stateright             # every configuration
//! cargo bench -p zksim-sim --bench versus_stateright -- --quick  # the smallest one, a smoke run
//! ```
//!
//! `VERSUS_STATERIGHT_QUICK=1` asks for the quick run too, and so does running the binary
//! without cargo bench's `--bench` flag (as `cargo test --benches` would), so a test run never
//! spends long here.

use std::process::ExitCode;

// Both explorers clone and drop whole worlds on several threads; with the system allocator the
// cross-thread frees dominate. The zksim binary uses mimalloc, and so does this bench, for both.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Mutex;
use std::time::Duration;

use stateright::{Checker, Model, Property as SrProperty};
use zksim_model::recipes::BuiltinRole;
use zksim_sim::action::Action;
use zksim_sim::event::Event;
use zksim_sim::explore::{self, search_from, Limits, Report, Search};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::property::{Check, Property};
use zksim_sim::recipes;
use zksim_sim::world::World;

type Wrld = World<BuiltinRole>;
type StateCheck = fn(&Wrld) -> bool;
type StepCheck = fn(&Wrld, &[Event]) -> bool;

/// One line of the table: a recipe, its shape and its fault budgets.
struct Config {
    label: &'static str,
    recipe: &'static str,
    options: Options,
    /// Whether the quick (smoke) run includes it.
    quick: bool,
}

fn options(shape: Shape, disconnects: u32, crashes: u32, expiries: u32) -> Options {
    Options {
        time: TimeMode::Abstract,
        disconnects_max: disconnects,
        crashes_max: crashes,
        kills_max: 0,
        expiries_max: expiries,
        shape,
        ..Options::default()
    }
}

fn masters(n: u32) -> Shape {
    Shape {
        masters: Some(n),
        ..Shape::default()
    }
}

/// The configurations, each finishing in seconds on a 2-core machine. Left out as too large
/// for a benchmark: the election with 3 masters (past 2,000,000 states even without faults).
/// The cluster is in [`to_verdict`]'s table.
fn configs() -> Vec<Config> {
    let election = |label, disconnects, crashes, expiries, quick| Config {
        label,
        recipe: "election",
        options: options(masters(2), disconnects, crashes, expiries),
        quick,
    };
    vec![
        election("election m2 d1", 1, 0, 0, true),
        election("election m2 d1 e1", 1, 0, 1, false),
        election("election m2 d2", 2, 0, 0, false),
        election("election m2 c1", 0, 1, 0, false),
        election("election m2 c1 e1", 0, 1, 1, false),
    ]
}

/// The cluster configurations of the second table, where zksim's reductions apply (the
/// cluster's safety properties read the shared state only, and its roles read no zxid), so
/// the two explorers no longer search the same graph: what is compared is the time to a
/// verdict.
fn to_verdict() -> Vec<Config> {
    let cluster = |label, masters, workers, clients, tasks, crashes, quick| Config {
        label,
        recipe: "fixed",
        options: options(
            Shape {
                masters: Some(masters),
                workers: Some(workers),
                clients: Some(clients),
                tasks: Some(tasks),
                queued: None,
            },
            0,
            crashes,
            0,
        ),
        quick,
    };
    vec![
        cluster("fixed m2 w0 c0 t0 c1", 2, 0, 0, 0, 1, true),
        cluster("fixed m1 w1 c1 t1", 1, 1, 1, 1, 0, false),
    ]
}

/// The most states Stateright may generate in the second table, duplicates included (a
/// backstop: its frontier of whole worlds grows with it).
const STATERIGHT_CAP: usize = 2_000_000;

/// The world as a Stateright model, with the recipe's properties split by kind.
struct WorldModel {
    start: Wrld,
    always: Vec<(&'static str, StateCheck)>,
    step: Vec<(&'static str, StepCheck)>,
    eventually: Vec<(&'static str, StateCheck)>,
    /// The first `Step` or `Eventually` property found failing (Stateright's properties
    /// cannot express them, so the model notes failures itself; only touched on a failure).
    failed: Mutex<Option<&'static str>>,
}

impl WorldModel {
    fn new(start: Wrld, properties: Vec<Property<BuiltinRole>>) -> Self {
        let mut model = WorldModel {
            start,
            always: Vec::new(),
            step: Vec::new(),
            eventually: Vec::new(),
            failed: Mutex::new(None),
        };
        for p in properties {
            match p.check {
                Check::Always(f) => model.always.push((p.name, f)),
                Check::Step(f) => model.step.push((p.name, f)),
                Check::Eventually(f) => model.eventually.push((p.name, f)),
                Check::Sometimes(_) => {}
            }
        }
        assert!(
            model.always.len() <= ALWAYS.len(),
            "more Always properties than the bench has slots for"
        );
        // Stateright's BFS stops at the first state when it awaits no property.
        assert!(!model.always.is_empty(), "a recipe with no Always property");
        model
    }

    fn fail(&self, name: &'static str) {
        let mut failed = self.failed.lock().expect("not poisoned");
        failed.get_or_insert(name);
    }
}

/// The `I`th `Always` property of the model, as the plain function Stateright wants (its
/// properties are `fn` pointers, which cannot capture the recipe's).
fn always_holds<const I: usize>(model: &WorldModel, world: &Wrld) -> bool {
    (model.always[I].1)(world)
}

const ALWAYS: [fn(&WorldModel, &Wrld) -> bool; 8] = [
    always_holds::<0>,
    always_holds::<1>,
    always_holds::<2>,
    always_holds::<3>,
    always_holds::<4>,
    always_holds::<5>,
    always_holds::<6>,
    always_holds::<7>,
];

impl Model for WorldModel {
    type State = Wrld;
    type Action = Action;

    fn init_states(&self) -> Vec<Wrld> {
        vec![self.start.clone()]
    }

    fn actions(&self, world: &Wrld, actions: &mut Vec<Action>) {
        // The explorer's own action function (it ends faults once every budget is spent).
        actions.extend(explore::actions(world));
        // zksim's liveness check: a terminal state reached once faults have stopped.
        if actions.is_empty() && !world.faults_on() {
            if let Some((name, _)) = self.eventually.iter().find(|(_, holds)| !holds(world)) {
                self.fail(name);
            }
        }
    }

    fn next_state(&self, world: &Wrld, action: Action) -> Option<Wrld> {
        let mut next = world.clone();
        // As the explorer steps: the last fault and the stop of faults as one transition.
        let (events, _) = explore::step(&mut next, &action).expect("an enabled action");
        if let Some((name, _)) = self.step.iter().find(|(_, holds)| !holds(&next, &events)) {
            self.fail(name);
        }
        Some(next)
    }

    fn properties(&self) -> Vec<SrProperty<Self>> {
        self.always
            .iter()
            .zip(ALWAYS)
            .map(|((name, _), holds)| SrProperty::always(name, holds))
            .collect()
    }
}

/// What one explorer did on one configuration.
struct Run {
    states: u64,
    transitions: u64,
    seconds: f64,
    /// Why the run cannot be trusted (a limit hit, a property failed), if so.
    trouble: Option<String>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.states as f64 / self.seconds.max(1e-9)
    }
}

/// The fastest of `runs` runs; a run whose counts differ from the first's is kept as trouble.
fn fastest(runs: usize, mut run: impl FnMut() -> Run) -> Run {
    let mut best = run();
    for _ in 1..runs {
        let next = run();
        if (next.states, next.transitions) != (best.states, best.transitions) {
            best.trouble.get_or_insert_with(|| {
                format!(
                    "runs differ: {} states, {} transitions, then {}, {}",
                    best.states, best.transitions, next.states, next.transitions
                )
            });
        }
        if next.seconds < best.seconds {
            best = Run {
                trouble: best.trouble.or(next.trouble),
                ..next
            };
        }
    }
    best
}

/// Runs `f` and returns its result with the wall-clock seconds it took. The clock only
/// measures: nothing explored depends on it.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

fn start(config: &Config) -> (Wrld, Vec<Property<BuiltinRole>>) {
    let recipe = recipes::find(config.recipe).expect("a built-in recipe");
    let (world, _events) = recipe.world(&config.options, 0);
    (world, recipe.properties())
}

fn run_zksim(config: &Config, threads: usize) -> Run {
    // The search for liveness cycles is zksim's alone: left out, so both do the same work;
    // and every interleaving with every zxid, so both search the same graph.
    let search = Search {
        limits: Limits {
            states_max: 20_000_000,
            ..Limits::default()
        },
        threads,
        liveness: false,
        reduction: false,
        forget_zxids: false,
        // Stateright hashes the world exactly, xids included.
        forget_xids: false,
        ..Search::default()
    };
    run_zksim_with(config, &search)
}

fn run_zksim_with(config: &Config, search: &Search) -> Run {
    let (world, properties) = start(config);
    let (report, seconds): (Report, f64) =
        timed(|| search_from(world, &properties, search, &mut |_| {}));
    let trouble = match (&report.violation, report.complete) {
        (Some(v), _) => Some(format!("zksim: {} violated", v.property)),
        (None, false) => Some("zksim: incomplete (a limit was hit)".into()),
        (None, true) => None,
    };
    Run {
        states: report.states,
        transitions: report.transitions,
        seconds,
        trouble,
    }
}

fn run_stateright(config: &Config, threads: usize) -> Run {
    // No cap: every configuration of the first table finishes far sooner.
    run_stateright_capped(config, threads, usize::MAX)
}

fn run_stateright_capped(config: &Config, threads: usize, cap: usize) -> Run {
    let (world, properties) = start(config);
    let model = WorldModel::new(world, properties);
    let (checker, seconds) = timed(|| {
        model
            .checker()
            .threads(threads)
            .target_state_count(cap)
            // A backstop only.
            .timeout(Duration::from_secs(600))
            .spawn_bfs()
            .join()
    });
    let mut trouble: Vec<String> = checker
        .discoveries()
        .into_keys()
        .map(|name| format!("stateright: {name} violated"))
        .collect();
    if let Some(name) = *checker.model().failed.lock().expect("not poisoned") {
        trouble.push(format!("stateright: {name} violated"));
    }
    // Stateright counts every generated successor plus the start states: the transitions are
    // that count less the one start state.
    let generated = checker.state_count() as u64;
    Run {
        states: checker.unique_state_count() as u64,
        transitions: generated.saturating_sub(1),
        seconds,
        trouble: (!trouble.is_empty()).then(|| trouble.join("; ")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // cargo bench passes --bench; without it (a test run) only the smoke configuration runs.
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var_os("VERSUS_STATERIGHT_QUICK").is_some_and(|v| v != "0")
        || !args.iter().any(|a| a == "--bench");
    // On a shared machine one run can be slowed by others: VERSUS_STATERIGHT_RUNS=N keeps the
    // fastest of N (the counts are the same every time; the bench checks that too).
    let runs: usize = std::env::var("VERSUS_STATERIGHT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);

    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} | {:>9} {:>9} | {:>9} {:>9} | {:>7} {:>7}",
        "configuration",
        "zk states",
        "sr states",
        "zk trans",
        "sr trans",
        "zk1 st/s",
        "zk2 st/s",
        "sr1 st/s",
        "sr2 st/s",
        "zk1/sr1",
        "zk2/sr2",
    );
    let mut failures = Vec::new();
    for config in configs().into_iter().filter(|c| c.quick || !quick) {
        let zk1 = fastest(runs, || run_zksim(&config, 1));
        let zk2 = fastest(runs, || run_zksim(&config, 2));
        let sr1 = fastest(runs, || run_stateright(&config, 1));
        let sr2 = fastest(runs, || run_stateright(&config, 2));
        println!(
            "{:<22} {:>10} {:>10} {:>10} {:>10} | {:>9.0} {:>9.0} | {:>9.0} {:>9.0} | {:>7.2} {:>7.2}",
            config.label,
            zk1.states,
            sr1.states,
            zk1.transitions,
            sr1.transitions,
            zk1.rate(),
            zk2.rate(),
            sr1.rate(),
            sr2.rate(),
            zk1.rate() / sr1.rate(),
            zk2.rate() / sr2.rate(),
        );
        for run in [&zk1, &zk2, &sr1, &sr2] {
            if let Some(t) = &run.trouble {
                failures.push(format!("{}: {t}", config.label));
            }
        }
        for (who, run) in [
            ("zksim, 2 threads", &zk2),
            ("stateright, 1 thread", &sr1),
            ("stateright, 2 threads", &sr2),
        ] {
            if run.states != zk1.states {
                failures.push(format!(
                    "{}: distinct states differ: zksim {}, {who} {}",
                    config.label, zk1.states, run.states
                ));
            }
        }
    }
    println!(
        "(m: masters; d, c, e: disconnect, crash, expiry budgets, 0 when absent, no kills; \
         zk1, zk2, sr1, sr2: zksim and Stateright on 1 and 2 threads, distinct states a second; \
         the fastest of {runs} run(s))"
    );
    println!();
    println!(
        "{:<22} | {:>9} {:>10} {:>8} | {:>10} {:>8} {:>9}",
        "to a verdict", "zk", "zk states", "zk s", "sr states", "sr s", "sr",
    );
    for config in to_verdict().into_iter().filter(|c| c.quick || !quick) {
        // zksim as `zksim check` runs it: reduction on, zxids and xids forgotten, liveness on.
        let search = Search {
            threads: 2,
            forget_zxids: true,
            ..Search::default()
        };
        let zk = fastest(runs, || run_zksim_with(&config, &search));
        let sr = run_stateright_capped(&config, 2, STATERIGHT_CAP);
        // The cap counts generated states (transitions and the start), not distinct ones.
        let finished = sr.trouble.is_none() && sr.transitions + 1 < STATERIGHT_CAP as u64;
        println!(
            "{:<22} | {:>9} {:>10} {:>8.2} | {:>10} {:>8.2} {:>9}",
            config.label,
            if zk.trouble.is_none() {
                "verified"
            } else {
                "FAILED"
            },
            zk.states,
            zk.seconds,
            sr.states,
            sr.seconds,
            if finished { "verified" } else { "unfinished" },
        );
        if let Some(t) = &zk.trouble {
            failures.push(format!("{}: {t}", config.label));
        }
    }
    println!(
        "(t: tasks a client; zksim on 2 threads with partial-order reduction and zxids forgotten, \
         its liveness search on; Stateright on 2 threads over every interleaving, stopped once it \
         has generated {STATERIGHT_CAP} states)"
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("MISMATCH {f}");
        }
        ExitCode::FAILURE
    }
}
