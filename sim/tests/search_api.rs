//! `search_from` as a library: a caller can stop it (a wall-clock limit, or its progress
//! callback), and its report says which sometimes-properties the search reached.

use std::time::Duration;

use zksim_sim::explore::{search_from, Flow, Limits, Search, Stop};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::recipes;

fn cluster(masters: u32, workers: u32, clients: u32, budgets: [u32; 4]) -> Options {
    let [crashes_max, disconnects_max, expiries_max, kills_max] = budgets;
    Options {
        time: TimeMode::Abstract,
        crashes_max,
        disconnects_max,
        expiries_max,
        kills_max,
        shape: Shape {
            masters: Some(masters),
            workers: Some(workers),
            clients: Some(clients),
            tasks: (clients > 0).then_some(1),
            queued: None,
        },
        ..Options::default()
    }
}

// Goal: the progress callback stops the search by answering `Flow::Stop`: the report is
// incomplete, names the caller, and has no more states than when it was told to stop (give or
// take the batch being merged).
#[test]
fn the_progress_callback_can_stop_the_search() {
    let recipe = recipes::find("fixed").unwrap();
    let options = cluster(2, 1, 1, [0, 1, 1, 0]);
    let mut calls = 0;
    let mut seen = 0;
    let report = search_from(
        recipe.world(&options, 0).0,
        &recipe.properties(),
        &Search::default(),
        &mut |p| {
            calls += 1;
            seen = p.states;
            if calls == 3 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        },
    );
    assert_eq!(calls, 3);
    assert!(!report.complete);
    assert_eq!(report.stopped, Some(Stop::Caller));
    assert!(
        report.states <= seen + 4096,
        "{} states, told at {seen}",
        report.states
    );
}

// Goal: a wall-clock limit stops a search that would run for minutes, cleanly and incomplete.
#[test]
fn a_time_limit_stops_the_search() {
    let recipe = recipes::find("fixed").unwrap();
    let options = cluster(2, 2, 1, [1, 1, 1, 1]);
    let search = Search {
        limits: Limits {
            time_max: Some(Duration::from_millis(300)),
            states_max: u64::MAX,
            ..Limits::default()
        },
        ..Search::default()
    };
    let report = search_from(
        recipe.world(&options, 0).0,
        &recipe.properties(),
        &search,
        &mut |_| {},
    );
    assert_eq!(report.stopped, Some(Stop::TimeMax));
    assert!(!report.complete && report.violation.is_none());
}

// Goal: the report lists every sometimes-property with whether the search reached it: a
// failover needs a master to die, so a search without faults reaches none, and one with a
// kill and an expiry reaches it.
#[test]
fn the_report_says_which_sometimes_properties_were_reached() {
    let recipe = recipes::find("fixed").unwrap();
    let reached = |options: &Options| {
        let report = search_from(
            recipe.world(options, 0).0,
            &recipe.properties(),
            &Search {
                forget_zxids: true,
                ..Search::default()
            },
            &mut |_| {},
        );
        assert!(
            report.complete && report.violation.is_none(),
            "{:?} {:?} {}",
            report.stopped,
            report.violation,
            report.states
        );
        report.sometimes
    };
    let calm = reached(&cluster(2, 0, 0, [0, 0, 0, 0]));
    let names: Vec<&str> = calm.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "a failover happened",
            "a reassignment happened",
            "a ConnectionLoss was recovered",
            "a session expired"
        ]
    );
    assert!(calm.iter().all(|(_, r)| !r), "{calm:?}");
    let faulted = reached(&cluster(2, 0, 0, [0, 1, 1, 1]));
    let of = |name: &str| faulted.iter().find(|(n, _)| *n == name).unwrap().1;
    assert!(of("a failover happened"), "{faulted:?}");
    assert!(of("a session expired"), "{faulted:?}");
}
