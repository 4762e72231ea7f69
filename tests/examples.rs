//! The two recipes of `examples/`, each the project's cluster with one role of the user's (a
//! worker, a master) wrapping the project's own: every checker finds its bug, through the
//! same calls a user's crate makes (simulate, replay, shrink, the explorer, scenarios,
//! proptest), while the project's own recipe passes the same checks.

#[allow(dead_code)]
#[path = "../examples/delete_then_status.rs"]
mod delete_then_status;
#[allow(dead_code)]
#[path = "../examples/pipelined_moves.rs"]
mod pipelined_moves;

use zksim_model::role::Role;
use zksim_sim::explore::{search_from, Search, Strategy};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::properties::{NO_DOUBLE_ASSIGNMENT, NO_LOST_TASK, STATUS_ONCE};
use zksim_sim::recipes::{self, Recipe};
use zksim_sim::run::{self, replay_with, simulate};
use zksim_sim::scenario;
use zksim_sim::shrink::shrink_with;
use zksim_sim::trace;

/// The first seed below `seeds` whose run violates a property, and the property.
fn first_failure<R: Role>(recipe: &Recipe<R>, seeds: u64) -> Option<(u64, String)> {
    let failed = run::first_failure(recipe, &Options::default(), 0..seeds, false).unwrap();
    failed.map(|o| (o.seed, o.end.violations[0].property.clone()))
}

/// Simulation finds the bug, its trace replays byte for byte with the user's recipe, and
/// shrinks to a trace that fails alike; the project's `fixed` passes the same seeds.
fn simulated<R: Role>(recipe: &Recipe<R>, breaks: &[&str]) {
    let (seed, property) = first_failure(recipe, 1000).expect("the bug is found");
    assert!(
        breaks.contains(&property.as_str()),
        "seed {seed}: {property}"
    );
    let fixed = recipes::find("fixed").unwrap();
    assert_eq!(first_failure(&fixed, seed + 1), None);

    let text = simulate(recipe, &Options::default(), seed, false, true)
        .unwrap()
        .text
        .unwrap();
    assert_eq!(replay_with(recipe, &text).unwrap(), text);
    let shrunk = shrink_with(recipe, &text, 200).unwrap();
    let t = trace::parse(&shrunk.text).unwrap();
    let end = t.end.expect("a complete trace");
    assert_eq!(end.violations[0].property, property);
    assert!(t.steps.len() <= trace::parse(&text).unwrap().steps.len());
}

/// The explorer's options: abstract time, one master, one worker, one client with one task,
/// and `disconnects` disconnects as the only faults.
fn small(disconnects: u32) -> Options {
    Options {
        time: TimeMode::Abstract,
        crashes_max: 0,
        kills_max: 0,
        expiries_max: 0,
        disconnects_max: disconnects,
        shape: Shape {
            masters: Some(1),
            workers: Some(1),
            clients: Some(1),
            tasks: Some(1),
            queued: Some(0),
        },
        ..Options::default()
    }
}

/// The explorer (depth first: the bug lies deep, past a round of the whole cluster) finds the
/// bug in the small shape. The project's `fixed` is verified in shapes like it by
/// `sim/tests/explore.rs`.
fn explored<R: Role + Send + Sync>(recipe: &Recipe<R>, options: &Options, breaks: &[&str]) {
    let search = Search {
        forget_zxids: true,
        strategy: Strategy::DepthFirst,
        ..Search::default()
    };
    let found = search_from(
        recipe.world(options, 0).0,
        &recipe.properties(),
        &search,
        &mut |_| {},
    );
    let v = found.violation.expect("the explorer finds the bug");
    assert!(breaks.contains(&v.property.as_str()), "{v:?}");
}

/// A scenario of `recipe` with one fault; run with the user's recipe it meets `expect`, and
/// the same scenario of `fixed` passes.
fn scripted<R: Role>(recipe: &Recipe<R>, fault: &str, expect: &str) {
    let text = |name: &str, expect: &str| {
        format!(
            "recipe = \"{name}\"\nseed = 1\nexpect = \"{expect}\"\n\n[options]\n\
             repair_per_mille = 0\nassign_policy = \"least_loaded\"\n\n[[fault]]\n{fault}\n"
        )
    };
    let s = scenario::parse_with(recipe, &text(recipe.name, expect), "user.toml").unwrap();
    let report = s.run_with(recipe).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    let fixed = recipes::find("fixed").unwrap();
    let s = scenario::parse(&text("fixed", "pass"), "fixed.toml").unwrap();
    let report = s.run_with(&fixed).unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

/// Proptest's generated plans reach the bug within `cases` cases, through
/// `check_plan_with`.
fn proptested<R: Role>(recipe: &Recipe<R>, cases: u32, breaks: &[&str]) {
    use zksim_sim::proptest::{check_plan_with, fault_plans, runner, seeds, shapes};
    let mut runner = runner(cases);
    let result = runner.run(
        &(shapes(), fault_plans(), seeds()),
        |(shape, plan, seed)| {
            check_plan_with(recipe, shape, &plan, seed)?;
            Ok(())
        },
    );
    let failure = result.expect_err("a generated plan fails").to_string();
    assert!(breaks.iter().any(|b| failure.contains(b)), "{failure}");
}

// Goal: a worker of the user's that deletes its assignment before writing the status loses
// the task in between; every checker says so.
#[test]
fn the_delete_first_worker_is_caught_losing_a_task() {
    let recipe = delete_then_status::recipe();
    simulated(&recipe, &[NO_LOST_TASK]);
    explored(&recipe, &small(0), &[NO_LOST_TASK]);
    let crash = "action = \"crash\"\nprocess = \"w1\"\n\
                 on = { event = \"handled\", process = \"w1\", op = \"delete\", path = \"/assign/*/*\" }";
    scripted(&recipe, crash, NO_LOST_TASK);
    proptested(&recipe, 16, &[NO_LOST_TASK]);
}

// Goal: a master of the user's that sends a move's two writes at once, each fenced, assigns a
// task twice when the second write is lost; every checker says so.
#[test]
fn the_pipelined_master_is_caught_assigning_twice() {
    let recipe = pipelined_moves::recipe();
    let breaks = [NO_DOUBLE_ASSIGNMENT, STATUS_ONCE];
    simulated(&recipe, &breaks);
    explored(&recipe, &small(1), &breaks);
    let crash = "action = \"crash\"\nprocess = \"master\"\n\
                 on = { event = \"handled\", process = \"master\", op = \"create\", path = \"/assign/*/*\" }";
    scripted(&recipe, crash, NO_DOUBLE_ASSIGNMENT);
    proptested(&recipe, 256, &breaks);
}
