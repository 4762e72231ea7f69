//! A recipe of a user's own roles runs like a built-in one: simulated by seed, its trace
//! recorded and replayed byte for byte.

use zksim_model::op::{CreateMode, KeeperState, Request};
use zksim_model::role::{Ctx, Input, Role};
use zksim_model::{Data, ErrorCode};
use zksim_sim::options::Options;
use zksim_sim::property::Property;
use zksim_sim::recipes::Recipe;
use zksim_sim::run::{replay, replay_with, simulate};
use zksim_sim::world::World;

/// A role of the user's: creates its node when it starts (again after a restart or on a new
/// session), and again when the create ends in ConnectionLoss (it may not have been applied;
/// NodeExists then is fine); when its session expires it opens a new one. Without the retry
/// and the new session the node can be lost: the simulator found both (seeds 12 and 78) in
/// this role's first versions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Creator(&'static str);

impl Role for Creator {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        if let Input::Event { event } = input {
            if event.state == KeeperState::Expired {
                ctx.new_session();
            }
        }
        let lost = matches!(
            input,
            Input::Reply {
                reply: Err(ErrorCode::ConnectionLoss),
                ..
            }
        );
        if matches!(input, Input::Start { .. }) || lost {
            ctx.call(
                1,
                Request::create(self.0, Data::NULL, CreateMode::Persistent),
            );
        }
    }
}

fn processes(_: &Options, _: u64) -> Vec<(String, Creator)> {
    vec![("a".into(), Creator("/a")), ("b".into(), Creator("/b"))]
}

fn both(w: &World<Creator>) -> bool {
    w.server().tree().contains("/a") && w.server().tree().contains("/b")
}

fn recipe(name: &'static str, properties: fn() -> Vec<Property<Creator>>) -> Recipe<Creator> {
    Recipe::new(name, processes)
        .about("two processes create a node each")
        .with_properties(properties)
}

fn options() -> Options {
    // No permanent kills: a killed process would never create its node.
    Options {
        kills_max: 0,
        ..Options::default()
    }
}

// Goal: the user's recipe holds its property under faults on every seed tried, and each
// seed's trace replays byte for byte with the recipe given.
#[test]
fn a_recipe_of_ones_own_roles_is_simulated_and_replayed() {
    let creators = recipe("creators", || {
        vec![Property::eventually("both nodes are created", both)]
    });
    for seed in 0..100 {
        let o = simulate(&creators, &options(), seed, false, true).unwrap();
        assert!(
            o.end.violations.is_empty(),
            "seed {seed}: {:?}",
            o.end.violations
        );
        let text = o.text.unwrap();
        assert_eq!(replay_with(&creators, &text).unwrap(), text, "seed {seed}");
    }
}

// Goal: a property of the user's that fails is found, and its trace replays with the recipe
// (not by name, which only knows the built-in recipes, nor with another recipe).
#[test]
fn a_failing_property_of_ones_own_recipe_is_found_and_replays() {
    let never = recipe("creators-never-both", || {
        vec![Property::always("never both nodes", |w| !both(w))]
    });
    let failing = (0..50)
        .map(|seed| simulate(&never, &options(), seed, false, true).unwrap())
        .find(|o| !o.end.violations.is_empty())
        .expect("both nodes get created on some seed");
    assert_eq!(failing.end.violations[0].property, "never both nodes");
    let text = failing.text.unwrap();
    assert_eq!(replay_with(&never, &text).unwrap(), text);
    assert!(replay(&text)
        .unwrap_err()
        .to_string()
        .contains("creators-never-both"));
    let other = recipe("creators", Vec::new);
    assert!(replay_with(&other, &text)
        .unwrap_err()
        .to_string()
        .contains("line 1"));
}

// Goal: a scenario with scripted faults runs a recipe of one's own roles too: `b` is cut off
// right after its create is handled (the reply is lost, the node exists), and the role's
// retry meets NodeExists and still ends with both nodes.
#[test]
fn a_scenario_scripts_faults_for_ones_own_recipe() {
    let creators = recipe("creators", || {
        vec![Property::eventually("both nodes are created", both)]
    });
    let text = r#"
recipe = "creators"
seed = 3
expect = "pass"

[[fault]]
action = "disconnect"
process = "b"
on = { event = "handled", op = "create", path = "/b" }
"#;
    let scenario = zksim_sim::scenario::parse_with(&creators, text, "creators.toml").unwrap();
    let report = scenario.run_with(&creators).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert!(
        report.trace().contains("\"disconnect\""),
        "the fault was taken"
    );
    let other = recipe("other", Vec::new);
    let err = zksim_sim::scenario::parse_with(&other, text, "creators.toml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("creators.toml:2:"), "{err}");
}

// Goal: a fault plan checks a recipe of one's own roles as it does a built-in one: the
// correct role survives a disconnect right after its create is handled; a property that
// cannot hold fails with the plan and the Rust call that replays the scenario it wrote, and
// that call reproduces the violation.
#[test]
fn a_fault_plan_checks_ones_own_recipe_and_its_failure_replays() {
    use zksim_sim::options::Shape;
    use zksim_sim::proptest::{
        check_plan_with, Landmark, Plan, PlannedFault, Problem, Trigger, Who,
    };
    use zksim_sim::scenario::{load_with, FaultKind};
    let plan = Plan {
        faults: vec![PlannedFault {
            kind: FaultKind::Disconnect,
            process: Who::Process(1),
            trigger: Trigger::On(Landmark {
                event: "handled".into(),
                op: Some("create".into()),
                path: Some("/b".into()),
                nth: 1,
            }),
        }],
        repair_per_mille: 200,
        random_fault_per_mille: 0,
    };
    let creators = recipe("creators", || {
        vec![Property::eventually("both nodes are created", both)]
    });
    check_plan_with(&creators, Shape::default(), &plan, 0).unwrap();

    let never = recipe("creators-never-both", || {
        vec![Property::always("never both nodes", |w| !both(w))]
    });
    std::env::set_var(
        "ZKSIM_PROPTEST_DIR",
        std::env::temp_dir().join("zksim-own-recipe"),
    );
    let failure = check_plan_with(&never, Shape::default(), &plan, 0).unwrap_err();
    assert!(
        matches!(failure.problem, Problem::Violated { .. }),
        "{failure}"
    );
    let command = failure.command().unwrap();
    assert!(command.contains("load_with"), "{command}");
    assert!(
        failure.to_string().contains("reproduce (from Rust"),
        "{failure}"
    );
    let path = failure.file.clone().unwrap();
    let report = load_with(&never, &path).unwrap().run_with(&never).unwrap();
    assert!(
        report.ok,
        "the written scenario expects the violation: {:?}",
        report.problems
    );
    assert_eq!(
        report.outcome.end.violations[0].property,
        "never both nodes"
    );
}

// Goal: a failing trace of one's own recipe shrinks with the recipe given (`shrink_with`):
// the smaller trace still breaks the property, replays with the recipe, and is no longer;
// `shrink` by name, which knows only the built-in recipes, refuses it.
#[test]
fn a_failing_trace_of_ones_own_recipe_shrinks() {
    let never = recipe("creators-never-both", || {
        vec![Property::always("never both nodes", |w| !both(w))]
    });
    let failing = (0..50)
        .map(|seed| simulate(&never, &options(), seed, false, true).unwrap())
        .filter(|o| !o.end.violations.is_empty())
        .max_by_key(|o| o.end.steps)
        .expect("both nodes get created on some seed");
    let text = failing.text.unwrap();
    let shrunk = zksim_sim::shrink::shrink_with(&never, &text, 3000).unwrap();
    assert_eq!(shrunk.report.property, "never both nodes");
    assert!(shrunk.report.after.steps < shrunk.report.before.steps);
    assert_eq!(replay_with(&never, &shrunk.text).unwrap(), shrunk.text);
    assert!(zksim_sim::shrink::shrink(&text, 3000).is_err());
    let other = recipe("creators", Vec::new);
    assert!(zksim_sim::shrink::shrink_with(&other, &text, 3000)
        .unwrap_err()
        .to_string()
        .contains("line 1"));
}
