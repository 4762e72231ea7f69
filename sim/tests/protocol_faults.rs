//! Faults at protocol points (`Options::write_fault_per_mille`): the simulator drops a
//! process's connection, or crashes or kills it, in the step right after the server handled
//! one of its writes, at the sites a seed activates.

use zksim_sim::action::Action;
use zksim_sim::event::Event;
use zksim_sim::options::Options;
use zksim_sim::recipes;
use zksim_sim::run;
use zksim_sim::trace;

/// Per seed: (faults, faults taken right after a write of the same process was handled).
fn faults_after_writes(options: &Options, seeds: std::ops::Range<u64>) -> (usize, usize) {
    let recipe = recipes::find("fixed").unwrap();
    let (mut faults, mut placed) = (0, 0);
    for seed in seeds {
        let text = run::simulate(&recipe, options, seed, false, true)
            .unwrap()
            .text
            .unwrap();
        let t = trace::parse(&text).unwrap();
        let mut last_write_handled = None;
        for line in &t.steps {
            if let Some(
                Action::Disconnect { process }
                | Action::Crash { process }
                | Action::Kill { process },
            ) = &line.action
            {
                faults += 1;
                placed += usize::from(last_write_handled == Some(*process));
            }
            // The write handled in this step (the writes' xids are in the sent events).
            last_write_handled = line.events.iter().find_map(|e| match e {
                Event::Handled { process, xid, .. } => t
                    .steps
                    .iter()
                    .flat_map(|l| &l.events)
                    .any(|s| {
                        matches!(s, Event::Sent { process: p, xid: x, request }
                            if p == process && x == xid && request.path().is_none_or(|_| is_write(request)))
                    })
                    .then_some(*process),
                _ => None,
            });
        }
    }
    (faults, placed)
}

fn is_write(r: &zksim_model::op::Request) -> bool {
    use zksim_model::op::Request;
    matches!(
        r,
        Request::Create { .. }
            | Request::Delete { .. }
            | Request::SetData { .. }
            | Request::Multi { .. }
    )
}

// Goal: the knob puts faults right after writes of the faulted process: with random faults
// rare, far more faults come right after such a write with it than without it (the seeds
// are the same; only the knob differs).
#[test]
fn faults_at_protocol_points_come_right_after_a_write_of_their_process() {
    let base = Options {
        fault_per_mille: 1,
        ..Options::unaimed()
    };
    let placed = Options {
        write_fault_per_mille: 1000,
        ..base.clone()
    };
    let (_, with_knob) = faults_after_writes(&placed, 0..40);
    let (_, without) = faults_after_writes(&base, 0..40);
    assert!(
        with_knob >= 20 && with_knob > 5 * without,
        "faults right after a write: {with_knob} with the knob, {without} without"
    );
}

// Goal: the knob is in the trace's header, so a run with it replays byte for byte.
#[test]
fn a_run_with_faults_at_protocol_points_replays() {
    let recipe = recipes::find("backup-misses-reelection").unwrap();
    let options = Options {
        write_fault_per_mille: 300,
        ..Options::unaimed()
    };
    for seed in 0..20 {
        let text = run::simulate(&recipe, &options, seed, false, true)
            .unwrap()
            .text
            .unwrap();
        assert!(text
            .lines()
            .next()
            .unwrap()
            .contains("\"write_fault_per_mille\":300"));
        assert_eq!(run::replay(&text).unwrap(), text);
    }
}
