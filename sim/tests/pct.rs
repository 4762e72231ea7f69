//! PCT schedules (`Options::pct_depth`): the simulator runs the highest-priority process's
//! step, with the priorities drawn from the seed and changed at `depth - 1` drawn steps.

use zksim_sim::options::Options;
use zksim_sim::recipes;
use zksim_sim::run;

fn failures(recipe: &str, options: &Options, seeds: std::ops::Range<u64>) -> Vec<u64> {
    let recipe = recipes::find(recipe).unwrap();
    seeds
        .filter(|&s| {
            !run::simulate(&recipe, options, s, false, false)
                .unwrap()
                .end
                .violations
                .is_empty()
        })
        .collect()
}

// Goal: a priority schedule reaches what uniform choice rarely does. The master that stops
// assigning when it meets a task with no live worker fails only if the task is listed before
// any worker registered: uniform choice first gets there at seed 1,547, a priority order that
// runs the client and the master ahead of the workers does at once.
#[test]
fn a_priority_schedule_finds_a_race_uniform_choice_misses() {
    let pct = Options {
        pct_depth: 2,
        ..Options::default()
    };
    let uniform = failures("empty-worker-list", &Options::default(), 0..60);
    let prioritized = failures("empty-worker-list", &pct, 0..60);
    assert!(uniform.is_empty(), "uniform: {uniform:?}");
    assert!(prioritized.len() >= 5, "PCT: {prioritized:?}");
    // And the correct recipe stays correct under it.
    assert_eq!(failures("fixed", &pct, 0..60), Vec::<u64>::new());
}

// Goal: the schedule is drawn from the seed and named in the header: a PCT run replays byte
// for byte, and two depths give different runs of one seed.
#[test]
fn a_pct_run_replays_and_its_depth_is_in_the_header() {
    let recipe = recipes::find("fixed").unwrap();
    let run_of = |depth: u32, seed: u64| {
        let options = Options {
            pct_depth: depth,
            ..Options::default()
        };
        run::simulate(&recipe, &options, seed, false, true)
            .unwrap()
            .text
            .unwrap()
    };
    let mut differ = 0;
    for seed in 0..10 {
        let text = run_of(3, seed);
        assert!(text.lines().next().unwrap().contains("\"pct_depth\":3"));
        assert_eq!(run::replay(&text).unwrap(), text);
        assert_eq!(text, run_of(3, seed), "seed {seed} is not deterministic");
        differ += usize::from(run_of(0, seed) != text);
    }
    assert!(differ >= 8, "PCT changed only {differ} of 10 runs");
}
