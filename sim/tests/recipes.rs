//! Testing the tester: the correct recipe passes thousands of seeds, and each planted bug is
//! found, breaking exactly the property its mutant names.

use zksim_sim::options::{Options, TimeMode};
use zksim_sim::recipes::{self, RecipeKind};
use zksim_sim::run::simulate;

const SEEDS: u64 = 2000;

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

// Goal: the variants hold every property on every seed, and their sometimes-properties are
// reached (a green run that never failed over or lost a connection tested nothing).
#[test]
fn the_correct_recipe_passes_every_seed_and_is_not_vacuous() {
    for recipe in recipes::all()
        .into_iter()
        .filter(|r| r.kind == RecipeKind::Variant)
    {
        for (options, swarm) in modes() {
            let mut unreached: Option<Vec<String>> = None;
            for seed in 0..SEEDS {
                let o = simulate(&recipe, &options, seed, swarm, false).unwrap();
                assert!(
                    o.end.violations.is_empty(),
                    "{} seed {seed} swarm {swarm}: {:?}",
                    recipe.name,
                    o.end.violations
                );
                let mine = o.end.unreached.clone();
                unreached = Some(match unreached {
                    None => mine,
                    Some(prev) => prev.into_iter().filter(|p| mine.contains(p)).collect(),
                });
            }
            let never = unreached.unwrap_or_default();
            assert!(
                never.is_empty(),
                "{} ({options:?}, swarm {swarm}) never reached {never:?}",
                recipe.name
            );
        }
    }
}

// Goal: every mutant's bug is found within the seed range, and the first violation is the
// property the mutant says it breaks.
#[test]
fn every_mutant_is_caught_breaking_its_named_property() {
    for recipe in recipes::all()
        .into_iter()
        .filter(|r| r.kind == RecipeKind::Mutant)
    {
        let breaks = recipe
            .breaks
            .expect("a mutant names the property it breaks");
        let found = (0..SEEDS).find_map(|seed| {
            let o = simulate(&recipe, &Options::default(), seed, false, false).unwrap();
            o.end.violations.first().map(|v| (seed, v.property.clone()))
        });
        let (seed, property) =
            found.unwrap_or_else(|| panic!("{} was not caught in {SEEDS} seeds", recipe.name));
        assert_eq!(property, breaks, "{} seed {seed}", recipe.name);
    }
}
