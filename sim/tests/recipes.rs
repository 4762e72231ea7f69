//! Testing the tester: the correct recipes pass every seed tried, each planted bug is caught
//! breaking exactly the property its mutant names, and the book's and the seed's flows are
//! caught too.

use std::path::Path;

use zksim_sim::explore::{search_from, Search};
use zksim_sim::options::{Options, TimeMode};
use zksim_sim::recipes::{self, RecipeKind};
use zksim_sim::run::{replay, simulate};
use zksim_sim::trace;

fn modes() -> [(Options, bool); 3] {
    let abstract_time = Options {
        time: TimeMode::Abstract,
        ..Options::default()
    };
    [
        (Options::default(), false),
        (Options::default(), true),
        (abstract_time, false),
    ]
}

// Goal: the verified recipes hold every property on every seed tried, and their
// sometimes-properties are reached (a green run that never failed over tested nothing).
#[test]
fn the_correct_recipes_pass_every_seed_and_are_not_vacuous() {
    for recipe in recipes::all().into_iter().filter(|r| r.verified) {
        for (options, swarm) in modes() {
            let mut reached = std::collections::BTreeSet::new();
            let mut all = std::collections::BTreeSet::new();
            for seed in 0..300 {
                let o = simulate(&recipe, &options, seed, swarm, false).unwrap();
                assert!(
                    o.end.violations.is_empty(),
                    "{} seed {seed} swarm {swarm} {:?}: {:?}",
                    recipe.name,
                    options.time,
                    o.end.violations
                );
                reached.extend(o.end.reached);
                all.extend(o.end.unreached);
            }
            let never: Vec<_> = all.difference(&reached).collect();
            assert!(
                never.is_empty(),
                "{} ({:?}, swarm {swarm}) never reached {never:?}",
                recipe.name,
                options.time
            );
        }
    }
}

// Goal: every mutant has a recorded counterexample in scenarios/regressions that replays byte
// for byte, fails with the property the mutant names, and passes on the mutant's baseline:
// the same seed for a simulator's counterexample (`<name>.seed-<n>.jsonl`), the same shape
// and budgets searched whole for one `zksim check` found (`<name>.check.jsonl`, for bugs no
// simulated seed has hit).
#[test]
fn every_mutant_is_caught_breaking_its_named_property() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions");
    for recipe in recipes::all()
        .into_iter()
        .filter(|r| r.kind == RecipeKind::Mutant)
    {
        let seeded = format!("{}.seed-", recipe.name);
        let checked = format!("{}.check.jsonl", recipe.name);
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(&seeded) || name == checked
            })
            .unwrap_or_else(|| {
                panic!("no counterexample for {} in {}", recipe.name, dir.display())
            });
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(replay(&text).unwrap(), text, "{}", file.display());
        let t = trace::parse(&text).unwrap();
        let first = &t.end.as_ref().unwrap().violations[0].property;
        assert_eq!(Some(first.as_str()), recipe.breaks, "{}", file.display());
        let baseline = recipes::find(recipe.baseline.expect("a mutant has a baseline")).unwrap();
        if file.file_name().unwrap().to_string_lossy() == checked {
            let options = &t.header.options;
            let search = Search {
                forget_zxids: true,
                ..Search::default()
            };
            let (start, _) = baseline.world(options, 0);
            let r = search_from(start, &baseline.properties(), &search, &mut |_| {});
            assert!(
                r.complete && r.violation.is_none(),
                "{} is not verified in the shape of {}: {:?}",
                baseline.name,
                file.display(),
                r.violation
            );
            continue;
        }
        let again = simulate(
            &baseline,
            &t.header.options,
            t.header.seed,
            t.header.swarm,
            false,
        )
        .unwrap();
        assert!(
            again.end.violations.is_empty(),
            "{} fails the seed of {}",
            baseline.name,
            file.display()
        );
    }
}

// Goal: the frequent mutants are found by a plain scan from seed 0, not only by their
// recorded seed (the rare ones are left to the recorded counterexample).
#[test]
fn frequent_mutants_are_found_within_a_few_hundred_seeds() {
    for name in [
        "election-assume-leader",
        "no-fencing",
        "sorted-children",
        "client-resubmits",
        "no-reassignment",
        "blind-master-retry",
    ] {
        let recipe = recipes::find(name).unwrap();
        let found = (0..300).any(|seed| {
            let o = simulate(&recipe, &Options::default(), seed, false, false).unwrap();
            o.end.violations.first().map(|v| v.property.as_str()) == recipe.breaks
        });
        assert!(found, "{name} not caught in 300 seeds");
    }
}

// Goal: the book's flow and the seed's naive flow, as written, are caught.
#[test]
fn the_book_and_the_seed_flows_are_caught() {
    for name in ["book", "seed-naive"] {
        let recipe = recipes::find(name).unwrap();
        assert!(!recipe.verified);
        let caught = (0..500).any(|seed| {
            !simulate(&recipe, &Options::default(), seed, false, false)
                .unwrap()
                .end
                .violations
                .is_empty()
        });
        assert!(caught, "{name} not caught in 500 seeds");
    }
}
