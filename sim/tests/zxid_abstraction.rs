//! Forgetting zxids loses nothing: where the explorer keys states by less than their zxids
//! ([`state_fingerprint`] with `forget_zxids`), searching by those keys reaches exactly the
//! keys of every state the whole graph, zxids kept, reaches. So no violation and no terminal
//! state is lost by merging states that differ only in their zxids.

use std::collections::{BTreeSet, VecDeque};

use zksim_model::hash::Forget;
use zksim_model::recipes::BuiltinRole;
use zksim_sim::explore::{actions, fingerprint, state_fingerprint};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::world::World;

type Key = fn(&World<BuiltinRole>) -> u64;

/// The keys of the states a breadth-first search keyed by `key` reaches (every action, no
/// reduction: one state expanded per key), and how many states it expanded.
fn reached(start: &World<BuiltinRole>, key: Key) -> (BTreeSet<u64>, usize) {
    let mut seen = BTreeSet::from([key(start)]);
    let mut frontier = VecDeque::from([start.clone()]);
    let mut expanded = 0;
    while let Some(world) = frontier.pop_front() {
        expanded += 1;
        for action in actions(&world) {
            let mut next = world.clone();
            next.step(&action).expect("enabled");
            if seen.insert(key(&next)) {
                frontier.push_back(next);
            }
        }
    }
    (seen, expanded)
}

/// The keys of every state of the whole graph (states told apart by every zxid), and how
/// many states it has.
fn reached_exactly(
    start: &World<BuiltinRole>,
    key: Key,
    states_max: usize,
) -> (BTreeSet<u64>, usize) {
    let mut keys = BTreeSet::from([key(start)]);
    let mut seen = BTreeSet::from([fingerprint(start)]);
    let mut frontier = VecDeque::from([start.clone()]);
    while let Some(world) = frontier.pop_front() {
        assert!(
            seen.len() <= states_max,
            "the whole graph is too big for this test"
        );
        for action in actions(&world) {
            let mut next = world.clone();
            next.step(&action).expect("enabled");
            if seen.insert(fingerprint(&next)) {
                keys.insert(key(&next));
                frontier.push_back(next);
            }
        }
    }
    (keys, seen.len())
}

fn start(recipe: &str, options: &Options) -> World<BuiltinRole> {
    let recipe = zksim_sim::recipes::find(recipe).unwrap();
    recipe.world(options, 0).0
}

fn shape(masters: u32, workers: u32, clients: u32, tasks: u32, disconnects_max: u32) -> Options {
    Options {
        time: TimeMode::Abstract,
        crashes_max: 0,
        kills_max: 0,
        disconnects_max,
        expiries_max: 0,
        shape: Shape {
            masters: Some(masters),
            workers: Some(workers),
            clients: Some(clients),
            tasks: Some(tasks),
            queued: None,
        },
        ..Options::default()
    }
}

/// The explorer's key with zxids forgotten where it can (xids kept: this file is about zxids,
/// but for the last tests).
fn forgetting(world: &World<BuiltinRole>) -> u64 {
    state_fingerprint(
        world,
        Forget {
            zxids: true,
            xids: false,
        },
    )
}

/// The keys the whole graph's states have and those the search by key reaches, for one
/// configuration, and the states each visited.
fn compare(
    recipe: &str,
    options: &Options,
    key: Key,
) -> (BTreeSet<u64>, BTreeSet<u64>, usize, usize) {
    let world = start(recipe, options);
    let (whole, states) = reached_exactly(&world, key, 50_000_000);
    let (merged, expanded) = reached(&world, key);
    (whole, merged, states, expanded)
}

// Goal: with reconnects still possible (a disconnect in the budget), the search by the
// explorer's keys reaches the keys of exactly the states the whole graph reaches, while
// merging many of them; shapes with a watch on every kind of node the cluster has.
#[test]
fn keys_without_most_zxids_reach_what_the_whole_graph_reaches() {
    let cases = [
        ("fixed", shape(1, 0, 0, 0, 2)),
        ("fixed", shape(2, 0, 0, 0, 1)),
        ("blind-master-retry", shape(1, 0, 0, 0, 1)),
        ("election", shape(2, 0, 0, 0, 2)),
    ];
    agree_with_the_whole_graph(&cases, forgetting);
}

// Goal: the same on the shapes with a worker or a client, whose whole graphs are too big for
// CI (minutes each): `cargo test --release -p zksim-sim --test zxid_abstraction -- --ignored`.
#[test]
#[ignore = "minutes: whole graphs of millions of states"]
fn keys_without_most_zxids_reach_what_the_whole_graph_reaches_with_workers_and_clients() {
    agree_with_the_whole_graph(
        &[
            ("fixed", shape(1, 1, 0, 0, 1)),
            ("fixed", shape(1, 0, 1, 1, 1)),
            ("fixed", shape(2, 0, 0, 0, 2)),
        ],
        forgetting,
    );
}

/// Asserts that the search by `key` reaches exactly the keys of the whole graph's states, and
/// merges some of them.
fn agree_with_the_whole_graph(cases: &[(&str, Options)], key: Key) {
    for (recipe, options) in cases {
        let (whole, merged, states, expanded) = compare(recipe, options, key);
        let how = format!("{recipe} {:?} d{}", options.shape, options.disconnects_max);
        let (missed, extra) = (
            whole.difference(&merged).count(),
            merged.difference(&whole).count(),
        );
        assert!(
            missed == 0 && extra == 0,
            "{how}: the merged search misses {missed} keys of {} and reaches {extra} others",
            whole.len()
        );
        assert!(
            expanded < states,
            "{how}: {expanded} of {states} states: none merged"
        );
        println!("{how}: {expanded} states instead of {states}");
    }
}

// Goal: the test above can fail. Keys that drop every zxid while a client can still
// reconnect merge states a reconnect tells apart, and the search by them misses states.
#[test]
fn keys_without_any_zxid_miss_states_a_reconnect_tells_apart() {
    fn no_zxids(world: &World<BuiltinRole>) -> u64 {
        zksim_model::hash::fingerprint_without_zxids(world)
    }
    let (whole, merged, _, _) = compare("election", &shape(2, 0, 0, 0, 1), no_zxids);
    assert!(merged.is_subset(&whole));
    assert!(
        merged.len() < whole.len(),
        "dropping every zxid lost nothing here"
    );
}

// ---- xids ------------------------------------------------------------------------------------

/// The explorer's default key: xids as distances below each handle's next one, zxids
/// forgotten where nothing can compare them.
fn forgetting_counters(world: &World<BuiltinRole>) -> u64 {
    state_fingerprint(
        world,
        Forget {
            zxids: true,
            xids: true,
        },
    )
}

/// The key with xids forgotten and every zxid kept.
fn forgetting_xids(world: &World<BuiltinRole>) -> u64 {
    state_fingerprint(
        world,
        Forget {
            zxids: false,
            xids: true,
        },
    )
}

/// Shapes whose processes number different counts of requests on different paths: a
/// master's rounds, a worker's registration, a client's submission and its retries.
fn xid_cases() -> Vec<(&'static str, Options)> {
    vec![
        ("fixed", shape(1, 1, 0, 0, 0)),
        ("fixed", shape(1, 0, 1, 1, 0)),
        ("fixed", shape(2, 0, 0, 0, 1)),
        ("election", shape(2, 0, 0, 0, 2)),
    ]
}

// Goal: states that differ only in the values of their xids behave alike. The search keyed by
// xids as distances below each handle's next one (zxids kept) reaches exactly the keys of the
// whole graph's states, xids kept, while merging some of them.
#[test]
fn keys_with_xids_forgotten_reach_what_the_whole_graph_reaches() {
    agree_with_the_whole_graph(&xid_cases(), forgetting_xids);
}

// Goal: the same with both abstractions, as `zksim check` keys states.
#[test]
fn keys_with_xids_and_zxids_forgotten_reach_what_the_whole_graph_reaches() {
    agree_with_the_whole_graph(&xid_cases(), forgetting_counters);
}

// Goal: the test above can fail. A key that also forgets which requests are pending (the
// handle's whole table of calls awaiting replies) merges states whose replies are matched
// to different calls, and the search by it misses states.
#[test]
fn keys_that_forget_the_pending_requests_miss_states() {
    fn no_pending(world: &World<BuiltinRole>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = zksim_model::hash::Fingerprinter::default();
        world.server().hash(&mut h);
        world.budget().hash(&mut h);
        world.faults_on().hash(&mut h);
        for p in world.processes() {
            (&p.name, &p.role).hash(&mut h);
            p.client()
                .map(|c| (c.session(), c.state(), c.watches().clone()))
                .hash(&mut h);
        }
        h.finish()
    }
    let (whole, merged, _, _) = compare("fixed", &shape(1, 1, 0, 0, 0), no_pending);
    assert!(
        merged.len() < whole.len(),
        "forgetting the pending calls missed nothing ({} keys)",
        whole.len()
    );
}
