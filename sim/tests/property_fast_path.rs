//! The checkers judge an `Always` property after a step from what the step touched
//! (`Property::holds_after_step`: a shared-state property is left alone by a step that changed
//! neither the server nor the claims, and `broken_only_by` narrows it further). That shortcut
//! must agree with the whole predicate: here every built-in recipe, mutants included, is
//! stepped at random with faults on, and after every step from a state where a property held,
//! the shortcut's answer is compared with the predicate's.

use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::property::Check;
use zksim_sim::recipes;

/// A fixed generator (splitmix64), so the runs are the same on every machine.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn options(recipe: &str, seed: u64) -> Options {
    let cluster = recipes::shape_fields(recipe).is_some_and(|f| f.contains(&"workers"));
    let shape = if cluster {
        Shape {
            masters: Some(2),
            workers: Some(2),
            clients: Some(2),
            tasks: Some(2),
            queued: Some(u32::from(seed % 3 == 0)),
        }
    } else {
        Shape::default()
    };
    Options {
        time: TimeMode::Abstract,
        crashes_max: 1,
        kills_max: 1,
        disconnects_max: 2,
        expiries_max: 1,
        shape,
        ..Options::default()
    }
}

// Goal: after every step from a state where an `Always` property held, the shortcut says it
// holds exactly when the whole predicate does; and the runs do break properties (else the
// comparison could not fail): the mutants that break an `Always` property are among them.
#[test]
fn the_shortcut_after_a_step_agrees_with_the_whole_predicate() {
    let mut compared = 0u64;
    let mut broken = 0u64;
    for recipe in recipes::all() {
        let properties = recipe.properties();
        for seed in 0..40u64 {
            let options = options(recipe.name, seed);
            let (mut world, _) = recipe.world(&options, seed);
            let mut rng = seed ^ 0x5EED;
            let mut held: Vec<bool> = properties
                .iter()
                .map(|p| match p.check {
                    Check::Always(holds) => holds(&world),
                    _ => false,
                })
                .collect();
            for _ in 0..400 {
                let actions = world.enabled_actions();
                if actions.is_empty() {
                    break;
                }
                let pick = (next(&mut rng) % actions.len() as u64) as usize;
                let events = world.step(&actions[pick]).expect("an enabled action");
                for (p, held) in properties.iter().zip(held.iter_mut()) {
                    let Check::Always(holds) = p.check else {
                        continue;
                    };
                    if !*held {
                        continue;
                    }
                    let whole = holds(&world);
                    let shortcut = p.holds_after_step(holds, &world, &events);
                    assert_eq!(
                        shortcut, whole,
                        "{} seed {seed}: \"{}\" after {:?}: shortcut {shortcut}, whole {whole}",
                        recipe.name, p.name, actions[pick]
                    );
                    compared += 1;
                    broken += u64::from(!whole);
                    *held = whole;
                }
            }
        }
    }
    assert!(compared > 100_000, "only {compared} comparisons");
    assert!(
        broken > 0,
        "no run broke an Always property: the comparison tested nothing"
    );
}

/// The `Always` properties' shortcut against their whole predicate along one run: the actions
/// of a recorded trace. Returns how many steps broke a property that held before.
fn compare_along(name: &str, text: &str) -> u64 {
    let t = zksim_sim::trace::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let recipe = recipes::find(&t.header.recipe).unwrap();
    let properties = recipe.properties();
    let (mut world, _) = recipe.world(&t.header.options, t.header.seed);
    let mut held: Vec<bool> = properties
        .iter()
        .map(|p| matches!(p.check, Check::Always(holds) if holds(&world)))
        .collect();
    let mut broken = 0;
    for action in t.steps.iter().skip(1).filter_map(|s| s.action.as_ref()) {
        let events = world.step(action).expect("the trace replays");
        for (p, held) in properties.iter().zip(held.iter_mut()) {
            let Check::Always(holds) = p.check else {
                continue;
            };
            if *held {
                let whole = holds(&world);
                let shortcut = p.holds_after_step(holds, &world, &events);
                assert_eq!(shortcut, whole, "{name}: \"{}\" after {action:?}", p.name);
                broken += u64::from(!whole);
                *held = whole;
            }
        }
    }
    broken
}

// Goal: along every recorded counterexample, the shortcut agrees with the whole predicate, and
// the step that breaks an `Always` property is seen by both (the mutants of "no task is
// assigned to two workers at once" and "no task is lost" are among them).
#[test]
fn the_shortcut_catches_every_recorded_violation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut broken = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if compare_along(&name, &std::fs::read_to_string(f).unwrap()) > 0 {
            broken.push(name);
        }
    }
    for expected in ["assign-then-delete", "delete-then-assign"] {
        assert!(
            broken.iter().any(|b| b.starts_with(expected)),
            "{expected}'s trace broke no Always property: {broken:?}"
        );
    }
}
