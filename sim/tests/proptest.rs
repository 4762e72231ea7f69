//! Property tests as a user writes them (`zksim_sim::proptest`): the fixed cluster survives
//! generated fault plans; a mutant fails with a shrunk plan and a replay command that
//! reproduces the same violation.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::TestError;
use zksim_sim::options::Shape;
use zksim_sim::proptest::{
    check_plan, config, fault_plans, runner, seeds, shapes, Landmark, Plan, PlannedFault, Problem,
    Trigger, Who,
};
use zksim_sim::recipes;
use zksim_sim::scenario::{self, FaultKind};

/// Runs `cases` deterministic cases of `recipe`; the shrunk failure's message and input, if any.
fn run_cases(recipe: &str, cases: u32) -> Option<(String, (Shape, Plan, u64))> {
    let mut runner = runner(cases);
    let result = runner.run(
        &(shapes(), fault_plans(), seeds()),
        |(shape, plan, seed)| {
            check_plan(recipe, shape, &plan, seed)?;
            Ok(())
        },
    );
    match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, input)) => Some((reason.message().to_string(), input)),
        Err(e) => panic!("{recipe}: {e}"),
    }
}

/// The scenario file a failure message's `reproduce: zksim run FILE` line names.
fn replay_file(message: &str) -> PathBuf {
    let line = message
        .lines()
        .find_map(|l| l.strip_prefix("reproduce: zksim run "))
        .unwrap_or_else(|| panic!("no replay command in:\n{message}"));
    PathBuf::from(line.trim())
}

// Goal: the correct cluster passes a batch of generated shapes × fault plans × seeds.
#[test]
fn the_fixed_recipe_survives_generated_fault_plans() {
    if let Some((message, _)) = run_cases("fixed", 24) {
        panic!("fixed failed:\n{message}");
    }
}

// Goal: a mutant fails, proptest shrinks the plan, and the replay command the message names
// reproduces the same violation when its scenario file is run.
#[test]
fn a_mutant_fails_with_a_shrunk_plan_and_a_replay_that_reproduces_it() {
    let recipe = "assign-then-delete";
    let (message, (_, plan, _)) =
        run_cases(recipe, 64).expect("the mutant's bug is found within 64 cases");
    println!("{message}");
    assert!(message.starts_with("violated \""), "{message}");
    assert!(message.contains(&format!("  plan: {plan}")), "{message}");
    assert!(
        plan.faults.len() <= 2,
        "shrunk to at most two faults: {plan}"
    );
    let violated = message
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("violated \""))
        .and_then(|l| l.split('"').next())
        .unwrap()
        .to_string();
    let properties: Vec<&str> = recipes::find(recipe)
        .unwrap()
        .properties()
        .iter()
        .map(|p| p.name)
        .collect();
    assert!(properties.contains(&violated.as_str()), "{violated}");
    let file = replay_file(&message);
    let report = scenario::load(&file).unwrap().run().unwrap();
    assert!(
        report.ok,
        "the scenario meets its expectation: {:?}",
        report.problems
    );
    let first = report.outcome.end.violations.first().expect("a violation");
    assert_eq!(first.property, violated, "the same property is violated");
    assert!(
        message.contains(&format!(" at step {}\n", first.step)),
        "at the same step:\n{message}"
    );
}

// Goal: the same plan gives the same verdict, message and file every time (deterministic).
#[test]
fn checking_a_plan_twice_fails_alike_and_names_the_same_file() {
    let plan = Plan {
        faults: vec![PlannedFault {
            kind: FaultKind::Crash,
            process: Who::Master,
            trigger: Trigger::On(Landmark {
                event: "handled".into(),
                op: Some("create".into()),
                path: Some("/assign/*/*".into()),
                nth: 3,
            }),
        }],
        repair_per_mille: 200,
        random_fault_per_mille: 0,
    };
    let shape = Shape {
        masters: Some(2),
        workers: Some(3),
        clients: Some(2),
        tasks: Some(2),
        queued: None,
    };
    let a = check_plan("assign-then-delete", shape, &plan, 0).unwrap_err();
    let b = check_plan("assign-then-delete", shape, &plan, 0).unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    assert!(matches!(a.problem, Problem::Violated { .. }), "{a}");
    assert_eq!(a.file, b.file);
    assert!(a.command().unwrap().starts_with("zksim run "));
    check_plan("fixed", shape, &plan, 0).unwrap();
}

// Goal: a plan that cannot run (an unknown recipe) fails with the reason, not a panic.
#[test]
fn an_unknown_recipe_is_a_failure_naming_the_known_ones() {
    let plan = Plan {
        faults: vec![],
        repair_per_mille: 200,
        random_fault_per_mille: 0,
    };
    let e = check_plan("no-such-recipe", Shape::default(), &plan, 0).unwrap_err();
    assert!(matches!(e.problem, Problem::Invalid(_)));
    assert!(e.to_string().contains("unknown recipe"), "{e}");
    assert!(e.command().is_none());
}

proptest! {
    #![proptest_config(config(4))]

    // Goal: the proptest! macro form from the module docs works with `?` on check_plan.
    #[test]
    fn the_election_survives_generated_plans_in_the_macro_form(
        shape in shapes(), plan in fault_plans(), seed in seeds()
    ) {
        check_plan("election", shape, &plan, seed)?;
    }
}
