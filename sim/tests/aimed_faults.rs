//! Faults aimed where failover goes wrong: right after the server queued a watch notification
//! to a process (`Options::notify_fault_per_mille`), and at the leader
//! (`Options::leader_fault_per_mille`). Each test compares the same seeds with and without
//! the knob, so it fails if the knob does nothing.

use zksim_model::role::Claim;
use zksim_sim::action::Action;
use zksim_sim::event::Event;
use zksim_sim::options::Options;
use zksim_sim::recipes;
use zksim_sim::run;
use zksim_sim::trace::{self, Trace};

fn traces(recipe: &str, options: &Options, seeds: std::ops::Range<u64>) -> Vec<Trace> {
    let recipe = recipes::find(recipe).unwrap();
    seeds
        .map(|seed| {
            let text = run::simulate(&recipe, options, seed, false, true)
                .unwrap()
                .text
                .unwrap();
            trace::parse(&text).unwrap()
        })
        .collect()
}

fn faulted(action: &Option<Action>) -> Option<usize> {
    match action {
        Some(
            Action::Disconnect { process } | Action::Crash { process } | Action::Kill { process },
        ) => Some(*process),
        _ => None,
    }
}

/// Faults, and faults that lost a watch notification on its way to the faulted process.
fn notifications_lost(traces: &[Trace]) -> (usize, usize) {
    let (mut faults, mut lost) = (0, 0);
    for t in traces {
        for line in &t.steps {
            let Some(p) = faulted(&line.action) else {
                continue;
            };
            faults += 1;
            lost += usize::from(line.events.iter().any(
                |e| matches!(e, Event::Lost { process, xid: 0, to_server: false } if *process == p),
            ));
        }
    }
    (faults, lost)
}

// Goal: with the knob, faults come while a watch notification is on its way to the faulted
// process (the fault loses it) far more often than without it.
#[test]
fn faults_after_notifications_lose_the_notification() {
    let base = Options {
        fault_per_mille: 5,
        ..Options::unaimed()
    };
    let aimed = Options {
        notify_fault_per_mille: 1000,
        ..base.clone()
    };
    let (_, with_knob) = notifications_lost(&traces("fixed", &aimed, 0..60));
    let (_, without) = notifications_lost(&traces("fixed", &base, 0..60));
    assert!(
        with_knob >= 15 && with_knob > 4 * without,
        "faults losing a notification: {with_knob} with the knob, {without} without"
    );
}

/// Faults taken while there was a leader (the process that last claimed to lead and has not
/// crashed or lost its session since), and those that struck it.
fn faults_on_the_leader(traces: &[Trace]) -> (usize, usize) {
    let (mut faults, mut on_leader) = (0, 0);
    for t in traces {
        let mut leader = None;
        for line in &t.steps {
            if let (Some(p), Some(l)) = (faulted(&line.action), leader) {
                faults += 1;
                on_leader += usize::from(l == p);
            }
            for e in &line.events {
                match e {
                    Event::Noted {
                        process,
                        claim: Claim::Leads,
                        ..
                    } => leader = Some(*process),
                    Event::Crashed { process }
                    | Event::Reconnected {
                        process,
                        expired: true,
                    } if leader == Some(*process) => leader = None,
                    _ => {}
                }
            }
        }
    }
    (faults, on_leader)
}

// Goal: with the knob at certainty most faults taken while there is a leader strike it
// (the others are faults at the leader's kinds' exhausted budgets); without it, about one in
// the cluster's six processes does.
#[test]
fn faults_aimed_at_the_leader_strike_it() {
    let base = Options::unaimed();
    let aimed = Options {
        leader_fault_per_mille: 1000,
        ..base.clone()
    };
    let (faults, with_knob) = faults_on_the_leader(&traces("fixed", &aimed, 0..40));
    let (base_faults, without) = faults_on_the_leader(&traces("fixed", &base, 0..40));
    assert!(
        with_knob * 2 > faults && without * 4 < base_faults,
        "faults on the leader: {with_knob} of {faults} with the knob, {without} of \
         {base_faults} without"
    );
}

// Goal: the two together find the backup that misses a re-election (a NodeDeleted lost in a
// disconnect, then the master it watched killed) in a few hundred default-shape seeds where
// neither alone, nor neither, does; and a run with them replays byte for byte from its header.
#[test]
fn aimed_faults_find_the_backup_that_misses_a_reelection() {
    let recipe = recipes::find("backup-misses-reelection").unwrap();
    let base = Options {
        fault_per_mille: 10,
        repair_per_mille: 100,
        ..Options::unaimed()
    };
    let found = |o: &Options| {
        (0..400u64)
            .filter(|&seed| {
                run::simulate(&recipe, o, seed, false, false)
                    .unwrap()
                    .end
                    .violations
                    .first()
                    .map(|v| v.property.as_str())
                    == recipe.breaks
            })
            .collect::<Vec<_>>()
    };
    let both = Options {
        notify_fault_per_mille: 1000,
        leader_fault_per_mille: 1000,
        ..base.clone()
    };
    let failing = found(&both);
    assert!(!failing.is_empty(), "not found with both knobs");
    assert_eq!(found(&base), Vec::<u64>::new());
    assert_eq!(
        found(&Options {
            notify_fault_per_mille: 1000,
            ..base.clone()
        }),
        Vec::<u64>::new()
    );
    let text = run::simulate(&recipe, &both, failing[0], false, true)
        .unwrap()
        .text
        .unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.contains("\"notify_fault_per_mille\":1000"));
    assert!(header.contains("\"leader_fault_per_mille\":1000"));
    assert_eq!(run::replay(&text).unwrap(), text);
}

// Goal: swarm draws both knobs from the seed, so some seeds run with each and some without.
#[test]
fn swarm_draws_the_aimed_faults() {
    let drawn: Vec<Options> = (0..64).map(Options::swarm).collect();
    for pick in [
        |o: &Options| o.notify_fault_per_mille,
        |o: &Options| o.leader_fault_per_mille,
    ] {
        assert!(drawn.iter().any(|o| pick(o) == 0));
        assert!(drawn.iter().any(|o| pick(o) == 1000));
    }
}

/// Whether a step handled a request of some process.
fn handled(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Handled { .. }))
}

// Goal: with time abstract, a fault placed right after a write may be the expiry of a silent
// session (one a crashed or cut-off process left), not only a fault of the writer: that is
// how `leader-demoted`'s leader comes to hold two election calls in flight, and the
// simulator finds it. Without write faults, the same seeds never fail.
#[test]
fn in_abstract_time_a_write_point_may_expire_a_silent_session() {
    let base = Options {
        time: zksim_sim::options::TimeMode::Abstract,
        ..Options::unaimed()
    };
    let aimed = Options {
        write_fault_per_mille: 1000,
        ..base.clone()
    };
    let recipe = recipes::find("leader-demoted").unwrap();
    let fails = |options: &Options, seed: u64| {
        let end = run::simulate(&recipe, options, seed, false, false)
            .unwrap()
            .end;
        !end.violations.is_empty()
    };
    let first = (0..3000).find(|&seed| fails(&aimed, seed));
    let first = first.expect("leader-demoted found in abstract time with write faults");
    assert!(!(0..=first).any(|seed| fails(&base, seed)));
    let text = run::simulate(&recipe, &aimed, first, false, true)
        .unwrap()
        .text
        .unwrap();
    assert_eq!(run::replay(&text).unwrap(), text);
    // Some expiry in the seeds came right after a handled write, as a write point's fault.
    let t = traces("fixed", &aimed, 0..50);
    let at_write_point = t.iter().any(|t| {
        t.steps
            .windows(2)
            .any(|w| handled(&w[0].events) && matches!(w[1].action, Some(Action::Expire { .. })))
    });
    assert!(at_write_point);
}

// Goal: fewer active sites leave the fault budget to the protocol points late in a run. A
// worker's status write comes after the election, the registrations and the submissions;
// with one site in four active those take every fault first, and `status-then-delete` (a
// worker dying between its status write and its delete) is rare. One in sixteen finds it on
// many more of the same seeds, and the trace's header keeps the knob, so the run replays.
#[test]
fn fewer_active_sites_reach_the_late_protocol_points() {
    let recipe = recipes::find("status-then-delete").unwrap();
    let at = |sites_one_in: u32| Options {
        fault_per_mille: 0,
        write_fault_per_mille: 1000,
        sites_one_in,
        ..Options::unaimed()
    };
    let failing = |options: &Options| -> Vec<u64> {
        (0..400)
            .filter(|&seed| {
                !run::simulate(&recipe, options, seed, false, false)
                    .unwrap()
                    .end
                    .violations
                    .is_empty()
            })
            .collect()
    };
    let (four, sixteen) = (failing(&at(4)), failing(&at(16)));
    assert!(
        sixteen.len() >= 4 * four.len().max(1),
        "one in 16: {sixteen:?}; one in 4: {four:?}"
    );
    let text = run::simulate(&recipe, &at(16), sixteen[0], false, true)
        .unwrap()
        .text
        .unwrap();
    assert!(text.lines().next().unwrap().contains("\"sites_one_in\":16"));
    assert_eq!(run::replay(&text).unwrap(), text);
    // The default is left out of the header, as traces before the knob were written.
    let text = run::simulate(&recipe, &at(4), 0, false, true)
        .unwrap()
        .text
        .unwrap();
    assert!(!text.lines().next().unwrap().contains("sites_one_in"));
}

// Goal: with time abstract, a process cut off at a protocol point (crashed, killed, or its
// connection dropped) has its session expire within a few steps, as a session timeout runs
// out while the others take a few steps, rather than as a rare fault among all the others.
#[test]
fn in_abstract_time_a_session_cut_off_at_a_protocol_point_expires_soon() {
    let options = Options {
        time: zksim_sim::options::TimeMode::Abstract,
        fault_per_mille: 0,
        write_fault_per_mille: 1000,
        ..Options::unaimed()
    };
    let (mut cut, mut soon) = (0, 0);
    for t in traces("fixed", &options, 0..100) {
        let mut session = std::collections::BTreeMap::new();
        for (i, w) in t.steps.windows(2).enumerate() {
            for e in &w[0].events {
                if let Event::SessionOpened {
                    process,
                    session: s,
                    ..
                } = e
                {
                    session.insert(*process, *s);
                }
            }
            let Some(p) = faulted(&w[1].action) else {
                continue;
            };
            let at_point = w[0]
                .events
                .iter()
                .any(|e| matches!(e, Event::Handled { process, .. } if *process == p));
            let Some(&s) = session.get(&p).filter(|_| at_point) else {
                continue;
            };
            cut += 1;
            soon += usize::from(
                t.steps[i + 2..]
                    .iter()
                    .take(8)
                    .any(|line| line.action == Some(Action::Expire { session: s })),
            );
        }
    }
    assert!(cut >= 20, "{cut} faults at write points");
    // Measured: 193 of 471; without the doom, 45 of 384 (the expiry then only a rare pick
    // among a write point's faults). Some never can: the budget of expiries is spent, or a
    // dropped connection came back first.
    assert!(
        3 * soon >= cut,
        "{soon} of {cut} sessions expired within 8 steps"
    );
}

// Goal: swarm draws the share of active sites, and leaves a quarter of the seeds without
// faults at a uniform rate (only at protocol points).
#[test]
fn swarm_draws_the_active_sites_and_runs_without_uniform_faults() {
    let drawn: Vec<Options> = (0..64).map(Options::swarm).collect();
    assert!(drawn.iter().any(|o| o.sites_one_in == 4));
    assert!(drawn.iter().any(|o| o.sites_one_in == 16));
    let none = drawn.iter().filter(|o| o.fault_per_mille == 0).count();
    assert!(
        (4..=32).contains(&none),
        "{none} of 64 without uniform faults"
    );
    assert!(drawn.iter().any(|o| o.fault_per_mille > 0));
}

// Goal: in timed runs, a stall of a process's event thread right after one of its writes,
// lasting until a cut-off process's session runs out, makes that expiry land between the
// write and the handling of its reply, as abstract time's doomed expiries do: how
// `leader-demoted`'s leader comes to hold two election calls in flight with a clock.
// Without stalls the same seeds never fail; the correct master never fails with them; the
// stall is in the trace, which replays.
#[test]
fn in_timed_runs_a_stall_lets_an_expiry_fall_between_a_write_and_its_reply() {
    let base = Options {
        sites_one_in: 1,
        shape: zksim_sim::options::Shape {
            workers: Some(0),
            clients: Some(0),
            ..Default::default()
        },
        stalls_max: 0,
        ..Options::default()
    };
    let stalling = Options {
        stalls_max: 2,
        ..base.clone()
    };
    let fails = |recipe: &str, options: &Options, seed: u64| {
        let recipe = recipes::find(recipe).unwrap();
        let end = run::simulate(&recipe, options, seed, false, false)
            .unwrap()
            .end;
        !end.violations.is_empty()
    };
    let first = (0..2000).find(|&seed| fails("leader-demoted", &stalling, seed));
    let first = first.expect("leader-demoted found in timed runs with stalls");
    assert!(!(0..=first).any(|seed| fails("leader-demoted", &base, seed)));
    assert!(!(0..=first).any(|seed| fails("fixed", &stalling, seed)));
    let recipe = recipes::find("leader-demoted").unwrap();
    let text = run::simulate(&recipe, &stalling, first, false, true)
        .unwrap()
        .text
        .unwrap();
    assert!(text.contains(r#""action":"stall""#), "{text}");
    assert_eq!(run::replay(&text).unwrap(), text);
}

// Goal: stalls are on by default in plain runs and drawn by swarm, placed on the first write
// to the path where a cut-off process was faulted, so the seeded simulator finds
// `leader-demoted` with its defaults: seed 41 plain and seed 4476 with `--swarm` (the first
// failing seeds the README gives), each through a stall, while the correct recipe passes
// both and seed 41 passes with stalls off.
#[test]
fn the_default_and_swarm_runs_find_leader_demoted_through_stalls() {
    for (seed, swarm) in [(41, false), (4476, true)] {
        let outcome = |recipe: &str, options: &Options| {
            let recipe = recipes::find(recipe).unwrap();
            run::simulate(&recipe, options, seed, swarm, true).unwrap()
        };
        let found = outcome("leader-demoted", &Options::default());
        assert!(
            found
                .end
                .violations
                .iter()
                .any(|v| v.property == "a master is elected once faults stop"),
            "seed {seed}: {:?}",
            found.end.violations
        );
        let text = found.text.unwrap();
        assert!(text.contains(r#""action":"stall""#), "seed {seed}");
        assert_eq!(run::replay(&text).unwrap(), text);
        let fixed = outcome("fixed", &Options::default());
        assert!(fixed.end.violations.is_empty(), "seed {seed}");
    }
    let drawn = Options::swarm(4476);
    assert!(drawn.stalls_max > 0);
    let unstalled = Options {
        stalls_max: 0,
        ..Options::default()
    };
    let recipe = recipes::find("leader-demoted").unwrap();
    let end = run::simulate(&recipe, &unstalled, 41, false, false)
        .unwrap()
        .end;
    assert!(end.violations.is_empty());
}
