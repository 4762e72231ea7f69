//! Property tests in your own crate: proptest strategies over cluster shapes, fault plans and
//! seeds, and [`check_plan`], which runs a recipe under a plan and fails with the violated
//! property, the (shrunk) plan and the one command that reproduces it.
//!
//! A fault plan ([`Plan`]) is data: scripted faults (what, on which process, when) and the
//! simulator's knobs for what is not scripted. [`check_plan`] turns it into a scenario (the
//! format of `docs/SCENARIOS.md`, without a file) and runs it the way `zksim run` does, so a
//! failure is written out as a scenario file and `zksim run FILE` replays it exactly. When
//! proptest shrinks a failing plan, it drops faults, triggers them earlier or at an earlier
//! landmark, and shrinks the shape and the seed.
//!
//! ```
//! use proptest::prelude::*;
//! use zksim_sim::proptest::{check_plan, fault_plans, runner, seeds, shapes};
//!
//! // Four generated cases of the correct cluster: no property is violated.
//! let mut runner = runner(4);
//! let result = runner.run(&(shapes(), fault_plans(), seeds()), |(shape, plan, seed)| {
//!     check_plan("fixed", shape, &plan, seed)?;
//!     Ok(())
//! });
//! if let Err(e) = result {
//!     panic!("{e}");
//! }
//! ```
//!
//! With the `proptest!` macro, take the configuration from [`config`] (fixed RNG seed, no
//! `proptest-regressions/` files):
//!
//! ```
//! use proptest::prelude::*;
//! use zksim_sim::proptest::{check_plan, config, fault_plans, seeds, shapes};
//!
//! proptest! {
//!     #![proptest_config(config(2))]
//!     // In your crate's tests/, mark it #[test] (left out here so the doc example runs it).
//!     fn the_fixed_cluster_survives_any_plan(
//!         shape in shapes(), plan in fault_plans(), seed in seeds()
//!     ) {
//!         check_plan("fixed", shape, &plan, seed)?;
//!     }
//! }
//! the_fixed_cluster_survives_any_plan();
//! ```
//!
//! [`check_plan`] takes a built-in recipe by its `--recipe` name ([`crate::recipes::all`]);
//! [`check_plan_with`] takes a [`Recipe`] of your own roles, and its failure names the Rust
//! call that replays the scenario it wrote (`sim/tests/own_recipe.rs` shows one).
//!
//! The failure message of the mutant `assign-then-delete` (from `sim/tests/proptest.rs`, the
//! scenario's text elided):
//!
//! ```text
//! violated "a status is written once" at step 489
//!   recipe assign-then-delete, seed 0, shape masters=2 workers=3 clients=2 tasks=2
//!   plan: crash master on handled create /assign/*/* (3rd); repairs 200‰; no random faults
//! reproduce: zksim run /tmp/zksim-proptest/assign-then-delete-0-241f8dfd495de052.toml
//!   (from Rust: zksim_sim::scenario::load(path)?.run(); the scenario expects the violation, so
//!   it passes while the bug is there: set expect = "pass" once it is fixed)
//! the scenario:
//!   | # A fault plan: crash master on handled create /assign/*/* (3rd); repairs 200‰; ...
//!   | recipe = "assign-then-delete"
//!   | ...
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use ::proptest::prelude::*;
use ::proptest::sample::select;
use ::proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};

use crate::error::PlanError;
use crate::options::{Options, Shape};
use crate::recipes::{self, Recipe};
use crate::scenario::{self, FaultKind};
use zksim_model::role::Role;

/// Which process a planned fault hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// Whichever process owns `/master` when the fault fires.
    Master,
    /// The process at this index in the recipe's process list, modulo its length (so any
    /// index names a process whatever the shape).
    Process(usize),
}

/// An event a fault waits for (a scenario's `on = { ... }`; see `docs/SCENARIOS.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landmark {
    /// The event kind: `request`, `handled`, `reply`, `change`, `watch`, ...
    pub event: String,
    /// The operation (`create`, `delete`, `created`, ...).
    pub op: Option<String>,
    /// A glob over the path.
    pub path: Option<String>,
    /// Which matching occurrence (from 1).
    pub nth: u32,
}

/// When a planned fault fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At this virtual time.
    AtMs(u64),
    /// Right after this event.
    On(Landmark),
}

/// One scripted fault of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFault {
    /// Crash, kill, restart, disconnect or reconnect (expire needs abstract time, which plans
    /// do not use: with a clock, a cut-off session expires by itself).
    pub kind: FaultKind,
    /// On which process.
    pub process: Who,
    /// When.
    pub trigger: Trigger,
}

/// A fault plan: scripted faults and the simulator's knobs around them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The script, each fault taken at the first step its trigger has held and it is enabled.
    pub faults: Vec<PlannedFault>,
    /// `Options::repair_per_mille`: how soon restarts and reconnects happen by themselves
    /// (0 leaves a crashed process down and a cut link cut, long enough for sessions to
    /// expire).
    pub repair_per_mille: u32,
    /// `Options::fault_per_mille`: random faults on top of the script, within the default
    /// budgets (raised to cover the script); 0 for the script alone.
    pub random_fault_per_mille: u32,
}

fn kind_name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Crash => "crash",
        FaultKind::Kill => "kill",
        FaultKind::Restart => "restart",
        FaultKind::Disconnect => "disconnect",
        FaultKind::Reconnect => "reconnect",
        FaultKind::Expire => "expire",
        FaultKind::RestartServer => "restart_server",
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl fmt::Display for Landmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.event)?;
        if let Some(op) = &self.op {
            write!(f, " {op}")?;
        }
        if let Some(path) = &self.path {
            write!(f, " {path}")?;
        }
        write!(f, " ({})", ordinal(self.nth))
    }
}

impl fmt::Display for PlannedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", kind_name(self.kind))?;
        match self.process {
            Who::Master => write!(f, "master")?,
            Who::Process(i) => write!(f, "process #{i}")?,
        }
        match &self.trigger {
            Trigger::AtMs(ms) => write!(f, " at {ms}ms"),
            Trigger::On(l) => write!(f, " on {l}"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            write!(f, "no scripted faults")?;
        }
        for (i, fault) in self.faults.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{fault}")?;
        }
        write!(f, "; repairs {}‰; ", self.repair_per_mille)?;
        match self.random_fault_per_mille {
            0 => write!(f, "no random faults"),
            n => write!(f, "random faults {n}‰"),
        }
    }
}

fn shape_text(shape: &Shape) -> String {
    let fields = [
        ("masters", shape.masters),
        ("workers", shape.workers),
        ("clients", shape.clients),
        ("tasks", shape.tasks),
    ];
    let set: Vec<String> = fields
        .iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n}={v}")))
        .collect();
    if set.is_empty() {
        "the recipe's default".to_string()
    } else {
        set.join(" ")
    }
}

impl Plan {
    /// The plan as a scenario file's text for this recipe, shape and seed, expecting `expect`
    /// (`"pass"` or a property's name). Processes are named as the recipe names them.
    pub fn scenario(
        &self,
        recipe: &str,
        shape: Shape,
        seed: u64,
        expect: &str,
    ) -> Result<String, PlanError> {
        self.scenario_with(&recipes::find(recipe)?, shape, seed, expect)
    }

    /// [`Plan::scenario`] for a recipe of your own roles.
    pub fn scenario_with<R: Role>(
        &self,
        r: &Recipe<R>,
        shape: Shape,
        seed: u64,
        expect: &str,
    ) -> Result<String, PlanError> {
        let recipe = r.name;
        let options = Options {
            shape,
            ..Options::default()
        };
        let names: Vec<String> = r
            .processes(&options, seed)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        if names.is_empty() {
            return Err(PlanError::NoProcess {
                recipe: recipe.to_string(),
            });
        }
        let mut t = String::new();
        t.push_str(&format!("# A fault plan: {self}.\n"));
        t.push_str(&format!("recipe = {}\n", quote(recipe)));
        t.push_str(&format!("seed = {seed}\n"));
        t.push_str(&format!("expect = {}\n\n", quote(expect)));
        t.push_str("[options]\n");
        t.push_str(&format!("repair_per_mille = {}\n", self.repair_per_mille));
        t.push_str(&format!(
            "fault_per_mille = {}\n",
            self.random_fault_per_mille
        ));
        if shape != Shape::default() {
            t.push_str("\n[options.shape]\n");
            for (n, v) in [
                ("masters", shape.masters),
                ("workers", shape.workers),
                ("clients", shape.clients),
                ("tasks", shape.tasks),
            ] {
                // A generated cluster shape's fields the recipe has no role for (workers
                // for the election) are left out: a scenario file would refuse them.
                let used = crate::recipes::shape_fields(recipe).is_none_or(|f| f.contains(&n));
                if let (Some(v), true) = (v, used) {
                    t.push_str(&format!("{n} = {v}\n"));
                }
            }
        }
        for fault in &self.faults {
            t.push_str("\n[[fault]]\n");
            t.push_str(&format!("action = {}\n", quote(kind_name(fault.kind))));
            let process = match fault.process {
                Who::Master => "master".to_string(),
                Who::Process(i) => names[i % names.len()].clone(),
            };
            t.push_str(&format!("process = {}\n", quote(&process)));
            match &fault.trigger {
                Trigger::AtMs(ms) => t.push_str(&format!("at_ms = {ms}\n")),
                Trigger::On(l) => {
                    let mut fields = vec![format!("event = {}", quote(&l.event))];
                    if let Some(op) = &l.op {
                        fields.push(format!("op = {}", quote(op)));
                    }
                    if let Some(path) = &l.path {
                        fields.push(format!("path = {}", quote(path)));
                    }
                    fields.push(format!("nth = {}", l.nth));
                    t.push_str(&format!("on = {{ {} }}\n", fields.join(", ")));
                }
            }
        }
        Ok(t)
    }
}

/// Why [`check_plan`] failed.
#[derive(Clone, Debug)]
pub enum Problem {
    /// A property was violated.
    Violated {
        /// The property.
        property: String,
        /// The step that violated it.
        step: u64,
    },
    /// The plan could not be run (unknown recipe, a trigger the recipe cannot take, ...).
    Invalid(String),
}

/// A failed [`check_plan`]: what went wrong, under which plan, and how to reproduce it.
/// Its `Display` is the message a property test shows.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What went wrong.
    pub problem: Problem,
    /// The recipe.
    pub recipe: String,
    /// The shape.
    pub shape: Shape,
    /// The seed.
    pub seed: u64,
    /// The plan.
    pub plan: Plan,
    /// The scenario file's text (for a violation: expecting it).
    pub scenario: String,
    /// Where the scenario was written (for a violation), or why it could not be.
    pub file: Result<PathBuf, String>,
    /// Whether the recipe is built in, so `zksim run` knows it (else it is replayed from Rust).
    pub builtin: bool,
}

impl Failure {
    /// The one command that reproduces the violation, when the scenario file was written.
    pub fn command(&self) -> Option<String> {
        match (&self.problem, &self.file) {
            (Problem::Violated { .. }, Ok(path)) if self.builtin => {
                Some(format!("zksim run {}", path.display()))
            }
            (Problem::Violated { .. }, Ok(path)) => Some(format!(
                "zksim_sim::scenario::load_with(&recipe, {:?}.as_ref())?.run_with(&recipe)",
                path.display().to_string()
            )),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Violated { property, step } => {
                writeln!(f, "violated {} at step {step}", quote(property))?
            }
            Problem::Invalid(e) => writeln!(f, "the plan could not run: {e}")?,
        }
        writeln!(
            f,
            "  recipe {}, seed {}, shape {}",
            self.recipe,
            self.seed,
            shape_text(&self.shape)
        )?;
        writeln!(f, "  plan: {}", self.plan)?;
        if let Problem::Violated { .. } = self.problem {
            match &self.file {
                Ok(path) if self.builtin => {
                    writeln!(f, "reproduce: zksim run {}", path.display())?;
                    writeln!(
                        f,
                        "  (from Rust: zksim_sim::scenario::load(path)?.run(); the scenario \
                         expects the violation, so it passes while the bug is there: set \
                         expect = \"pass\" once it is fixed)"
                    )?;
                }
                Ok(_) => {
                    writeln!(
                        f,
                        "reproduce (from Rust, with your recipe): {}",
                        self.command().expect("a written violation")
                    )?;
                    writeln!(
                        f,
                        "  (the scenario expects the violation, so it passes while the bug is \
                         there: set expect = \"pass\" once it is fixed)"
                    )?;
                }
                Err(why) => writeln!(
                    f,
                    "reproduce: save the scenario below as plan.toml and run `zksim run \
                     plan.toml` (it could not be written: {why})"
                )?,
            }
        }
        writeln!(f, "the scenario:")?;
        for line in self.scenario.lines() {
            writeln!(f, "  | {line}")?;
        }
        Ok(())
    }
}

/// A `Failure` is an error, so `check_plan(...)?` in a proptest body fails the case with its
/// message (proptest turns any error into a `TestCaseError` by its `Display`).
impl std::error::Error for Failure {}

/// Where failing plans are written: `$ZKSIM_PROPTEST_DIR` if set, else `zksim-proptest` in the
/// system's temporary directory.
pub fn failure_dir() -> PathBuf {
    match std::env::var_os("ZKSIM_PROPTEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("zksim-proptest"),
    }
}

/// A stable name for a scenario text (FNV-1a; the same plan always gets the same file).
fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn write_scenario(dir: &Path, recipe: &str, seed: u64, text: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{recipe}-{seed}-{}.toml", digest(text)));
    crate::files::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Runs the built-in recipe `recipe` with this shape under the plan from this seed, as
/// `zksim run` runs a scenario, and checks its properties. On a violation, writes the plan
/// as a scenario file to [`failure_dir`] and returns a [`Failure`] naming the command that
/// reproduces it (boxed: it is large, and a proptest body's `?` takes it as it is).
/// Scripted faults that never fire are not failures (a generated plan may
/// name a process that is down, or a landmark the run never reaches).
pub fn check_plan(recipe: &str, shape: Shape, plan: &Plan, seed: u64) -> Result<(), Box<Failure>> {
    let run = |text: &str| {
        let s = scenario::parse(text, "plan.toml").map_err(|e| e.to_string())?;
        s.run().map_err(|e| e.to_string())
    };
    let text = |expect: &str| {
        plan.scenario(recipe, shape, seed, expect)
            .map_err(|e| e.to_string())
    };
    check_plan_by(recipe, true, &text, &run, shape, plan, seed)
}

/// [`check_plan`] for a recipe of your own roles. Its failure names the Rust call that
/// replays the written scenario (`zksim run` knows only the built-in recipes). A plan's
/// `master` means the process whose session owns `/master`, as for the built-in recipes.
pub fn check_plan_with<R: Role>(
    recipe: &Recipe<R>,
    shape: Shape,
    plan: &Plan,
    seed: u64,
) -> Result<(), Box<Failure>> {
    let run = |text: &str| {
        let s = scenario::parse_with(recipe, text, "plan.toml").map_err(|e| e.to_string())?;
        s.run_with(recipe).map_err(|e| e.to_string())
    };
    let text = |expect: &str| {
        plan.scenario_with(recipe, shape, seed, expect)
            .map_err(|e| e.to_string())
    };
    check_plan_by(recipe.name, false, &text, &run, shape, plan, seed)
}

/// What [`check_plan`] and [`check_plan_with`] share: `text` writes the plan as a scenario
/// expecting what it is given, `run` runs such a text.
fn check_plan_by(
    recipe: &str,
    builtin: bool,
    text: &dyn Fn(&str) -> Result<String, String>,
    run: &dyn Fn(&str) -> Result<scenario::Report, String>,
    shape: Shape,
    plan: &Plan,
    seed: u64,
) -> Result<(), Box<Failure>> {
    let failure = |problem: Problem, scenario: String, file: Result<PathBuf, String>| {
        Box::new(Failure {
            problem,
            recipe: recipe.to_string(),
            shape,
            seed,
            plan: plan.clone(),
            scenario,
            file,
            builtin,
        })
    };
    let invalid = |e: String| failure(Problem::Invalid(e.clone()), String::new(), Err(e));
    let passing = text("pass").map_err(invalid)?;
    let report =
        run(&passing).map_err(|e| failure(Problem::Invalid(e.clone()), passing.clone(), Err(e)))?;
    let Some(v) = report.outcome.end.violations.first() else {
        return Ok(());
    };
    let text = text(&v.property).map_err(invalid)?;
    let file = write_scenario(&failure_dir(), recipe, seed, &text);
    Err(failure(
        Problem::Violated {
            property: v.property.clone(),
            step: v.step,
        },
        text,
        file,
    ))
}

/// Small cluster shapes: 2–3 masters, 2–3 workers (so one may die for good and a backup
/// remains), 1–2 clients of 1–3 tasks; the election takes the masters as its candidates.
/// Shrinks toward 2 masters, 2 workers, 1 client of 1 task.
pub fn shapes() -> impl Strategy<Value = Shape> {
    (2..=3u32, 2..=3u32, 1..=2u32, 1..=3u32).prop_map(|(m, w, c, t)| Shape {
        masters: Some(m),
        workers: Some(w),
        clients: Some(c),
        tasks: Some(t),
        queued: None,
    })
}

/// Simulation seeds. Shrinks toward 0.
pub fn seeds() -> impl Strategy<Value = u64> {
    0..10_000u64
}

/// The events plans wait for: the moments the built-in recipes are fragile around (a
/// create of `/master` sent or applied, an assignment made, a task taken off `/tasks`, a
/// status written, a worker registered).
fn landmarks() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("handled", "create", "/master"),
        ("request", "create", "/master"),
        ("handled", "create", "/assign/*/*"),
        ("handled", "delete", "/tasks/*"),
        ("handled", "create", "/status/*"),
        ("handled", "create", "/workers/*"),
        ("handled", "delete", "/master"),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![Just(Who::Master), (0..8usize).prop_map(Who::Process)]
}

fn triggers() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        (0..10_000u64).prop_map(Trigger::AtMs),
        (select(landmarks()), 1..=3u32).prop_map(|((event, op, path), nth)| {
            Trigger::On(Landmark {
                event: event.to_string(),
                op: Some(op.to_string()),
                path: Some(path.to_string()),
                nth,
            })
        }),
    ]
}

/// One scripted fault the cluster can recover from: a crash, disconnect, restart or
/// reconnect (no kill, no expire), on the master or any process, at a time in the first 10 s
/// or right after the 1st–3rd occurrence of a landmark event.
pub fn planned_faults() -> impl Strategy<Value = PlannedFault> {
    let kind = select(vec![
        FaultKind::Crash,
        FaultKind::Disconnect,
        FaultKind::Restart,
        FaultKind::Reconnect,
    ]);
    (kind, who(), triggers()).prop_map(|(kind, process, trigger)| PlannedFault {
        kind,
        process,
        trigger,
    })
}

/// Fault plans: up to four recoverable faults ([`planned_faults`]) and at most one kill
/// (a process dies for good; [`shapes`] runs two of each role, so a backup remains), repairs
/// at 200‰ (the default), 20‰, 0 or always, and usually no random faults on top. Shrinks
/// toward fewer faults, earlier triggers, default repairs and no random faults.
///
/// Liveness properties ("a master is elected once faults stop", "every task completes")
/// assume the cluster can recover, so plans never kill more than one process.
pub fn fault_plans() -> impl Strategy<Value = Plan> {
    let kill = (who(), triggers()).prop_map(|(process, trigger)| PlannedFault {
        kind: FaultKind::Kill,
        process,
        trigger,
    });
    (
        prop::collection::vec(planned_faults(), 0..=4),
        prop::option::weighted(0.3, kill),
        select(vec![200u32, 20, 0, 1000]),
        prop_oneof![4 => Just(0u32), 1 => Just(50u32)],
    )
        .prop_map(
            |(mut faults, kill, repair_per_mille, random_fault_per_mille)| {
                faults.extend(kill);
                Plan {
                    faults,
                    repair_per_mille,
                    random_fault_per_mille,
                }
            },
        )
}

/// A proptest configuration for reproducible runs: `cases` cases, a fixed RNG (ChaCha,
/// seed 0) and no `proptest-regressions/` files (a failure is kept as the scenario file its
/// message names instead).
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0),
        ..Config::default()
    }
}

/// A test runner with [`config`] and a deterministic RNG, for running cases from a plain
/// function (an example's `main`, a test without the `proptest!` macro).
pub fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        config(cases),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}
