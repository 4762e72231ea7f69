//! Tasks queued before the cluster starts (the shape's `queued`): where they are when the
//! processes start, and that the cluster's liveness property asks for them to be done.

use zksim_model::server::Change;
use zksim_model::Data;
use zksim_sim::event::Event;
use zksim_sim::explore::{search_from, Search};
use zksim_sim::options::{Options, Shape, TimeMode};
use zksim_sim::recipes::cluster::{queued_token, ALL_TASKS_DONE};

fn options(masters: u32, workers: u32, queued: u32) -> Options {
    Options {
        time: TimeMode::Abstract,
        crashes_max: 0,
        kills_max: 0,
        disconnects_max: 0,
        expiries_max: 0,
        shape: Shape {
            masters: Some(masters),
            workers: Some(workers),
            clients: Some(0),
            tasks: Some(0),
            queued: Some(queued),
        },
        ..Options::default()
    }
}

fn recipe(name: &str) -> zksim_sim::recipes::Recipe {
    zksim_sim::recipes::find(name).unwrap()
}

// Goal: the queued tasks and their markers are in the tree before any process starts, put
// there by a session that is closed by then, and the start's events say so.
#[test]
fn queued_tasks_are_in_the_tree_when_the_processes_start() {
    let o = options(1, 1, 2);
    let (world, events) = recipe("fixed").world(&o, 0);
    let tree = world.server().tree();
    let tasks: Vec<&str> = tree.get("/tasks").unwrap().children.iter().collect();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for n in 1..=2 {
        let token = queued_token(n);
        let task = tasks
            .iter()
            .find(|t| t.starts_with(&format!("task-{token}-")))
            .unwrap_or_else(|| panic!("no task of {token} in {tasks:?}"));
        let data = &tree.get(&format!("/tasks/{task}")).unwrap().data;
        assert_eq!(*data, Data::from(token.as_str()));
        assert!(tree.get(&format!("/clients/{token}")).is_some(), "{token}");
    }
    // Only the processes' sessions are left; the set-up session came and went first.
    let sessions: Vec<_> = world.server().sessions().keys().copied().collect();
    let held: Vec<_> = world
        .processes()
        .iter()
        .map(|p| p.session().unwrap())
        .collect();
    assert_eq!(sessions, held);
    let closed = events.iter().position(|e| {
        matches!(
            e,
            Event::Changed {
                change: Change::SessionClosed { expired: false, .. }
            }
        )
    });
    let opened = events
        .iter()
        .position(|e| matches!(e, Event::SessionOpened { .. }));
    assert!(closed.unwrap() < opened.unwrap(), "{events:?}");
}

// Goal: with no client at all, the liveness property still asks for the queued task: `fixed`
// is verified, and a master that stops assigning (`empty-worker-list`) leaves the task undone
// and is caught by it (no client could be left waiting, so only the queued task can fail it).
#[test]
fn a_queued_task_must_be_done() {
    let o = options(1, 1, 1);
    let search = Search {
        forget_zxids: true,
        ..Search::default()
    };
    let run = |name: &str| {
        let r = recipe(name);
        search_from(r.world(&o, 0).0, &r.properties(), &search, &mut |_| {})
    };
    let fixed = run("fixed");
    assert!(fixed.complete && fixed.violation.is_none(), "{fixed:?}");
    let mutant = run("empty-worker-list");
    let v = mutant.violation.expect("empty-worker-list found");
    assert_eq!(v.property, ALL_TASKS_DONE);
}

// Goal: no queued tasks leaves the world as it was: no set-up session, the processes' sessions
// first.
#[test]
fn no_queued_tasks_adds_nothing() {
    let o = options(1, 1, 0);
    let (world, events) = recipe("fixed").world(&o, 0);
    assert!(world.server().tree().get("/tasks").is_none());
    assert!(!events.iter().any(|e| matches!(
        e,
        Event::Changed {
            change: Change::SessionClosed { .. }
        }
    )));
}

// Goal: the simulator runs queued tasks too: `fixed` with two queued tasks and no client gets
// them done under the default random faults, seed after seed (the liveness phase checks that
// each has its status), and every run's trace replays.
#[test]
fn the_simulator_runs_queued_tasks_to_completion() {
    let o = Options {
        shape: Shape {
            masters: Some(2),
            workers: Some(2),
            clients: Some(0),
            tasks: Some(0),
            queued: Some(2),
        },
        ..Options::default()
    };
    let fixed = recipe("fixed");
    for seed in 0..100 {
        let out = zksim_sim::run::simulate(&fixed, &o, seed, false, true).unwrap();
        assert!(
            out.end.violations.is_empty(),
            "seed {seed}: {:?}",
            out.end.violations
        );
        let text = out.text.unwrap();
        zksim_sim::run::replay_with(&fixed, &text).unwrap();
    }
}
