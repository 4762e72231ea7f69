//! The explorer against tiny models whose state counts are worked out by hand.

use zksim_model::op::{Acl, CreateMode, Request};
use zksim_model::role::{Ctx, Input, Role};
use zksim_model::Data;
use zksim_sim::explore::{explore, Limits};
use zksim_sim::options::{Options, TimeMode};
use zksim_sim::property::Property;
use zksim_sim::world::World;

/// A role that creates one persistent node when it starts, and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Creator(&'static str);

impl Role for Creator {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        if let Input::Start { .. } = input {
            let path = self.0.to_string();
            let create = Request::Create {
                path,
                data: Data::NULL,
                acl: Acl::open(),
                mode: CreateMode::Persistent,
                ttl_ms: None,
                stat: false,
            };
            ctx.call(1, create);
        }
    }
}

fn no_faults() -> Options {
    Options {
        time: TimeMode::Abstract,
        crashes_max: 0,
        kills_max: 0,
        disconnects_max: 0,
        expiries_max: 0,
        ..Options::default()
    }
}

fn creators(paths: &[&'static str]) -> Vec<(String, Creator)> {
    paths.iter().map(|p| (p.to_string(), Creator(p))).collect()
}

// Goal: one process, one create, no faults. Its stages are A (request on the way), B (applied,
// reply on the way), C (done); each exists with faults on and off (StopFaults from any of the
// three): 6 states. Transitions: A->B, B->C in each half (4) plus 3 StopFaults = 7. The
// farthest state, C with faults off, is 3 steps away.
#[test]
fn one_creator_has_six_states_and_seven_transitions() {
    let r = explore(creators(&["/a"]), &no_faults(), &[], &Limits::default());
    assert!(r.complete && r.violation.is_none());
    assert_eq!((r.states, r.transitions, r.depth), (6, 7, 3));
}

// Goal: two processes creating different nodes. Per half: the 9 pairs of stages, but once both
// creates are applied the order they were applied in shows (the zxids differ), doubling the 4
// pairs in {B,C}x{B,C}: 5 + 8 = 13 states, 26 in all. Moves per half: (A,A) 2, (A,B) 2,
// (A,C) 1, (B,A) 2, (C,A) 1, (B,B) 2x2, (B,C) 1x2, (C,B) 1x2, (C,C) 0 = 16, so 32, plus 13
// StopFaults = 45 transitions. Farthest: (C,C) with faults off, 4 moves + 1 = 5 steps.
#[test]
fn two_creators_have_twenty_six_states_and_forty_five_transitions() {
    let r = explore(
        creators(&["/a", "/b"]),
        &no_faults(),
        &[],
        &Limits::default(),
    );
    assert!(r.complete && r.violation.is_none());
    assert_eq!((r.states, r.transitions, r.depth), (26, 45, 5));
}

// Goal: a safety property that fails is reported with a shortest path, and that path really
// leads to a violating state.
#[test]
fn a_violation_comes_with_a_shortest_path() {
    let two_nodes: Property<Creator> =
        Property::always("never both nodes", |w: &World<Creator>| {
            !(w.server().tree().contains("/a") && w.server().tree().contains("/b"))
        });
    let r = explore(
        creators(&["/a", "/b"]),
        &no_faults(),
        &[two_nodes],
        &Limits::default(),
    );
    let v = r.violation.expect("both nodes get created");
    assert_eq!(v.property, "never both nodes");
    assert_eq!(v.path.len(), 2, "two ToServer steps: {:?}", v.path);
    let (mut w, _) = World::new(no_faults(), creators(&["/a", "/b"]), 0);
    for a in &v.path {
        w.step(a).unwrap();
    }
    assert!(w.server().tree().contains("/a") && w.server().tree().contains("/b"));
}

// Goal: a state limit stops the search cleanly and says the result is incomplete.
#[test]
fn a_state_limit_stops_the_search_and_says_so() {
    let limits = Limits {
        states_max: 10,
        ..Limits::default()
    };
    let r = explore(creators(&["/a", "/b"]), &no_faults(), &[], &limits);
    assert!(!r.complete);
    assert_eq!(r.states, 10);
}

// Goal: on the election with two candidates and one disconnect, the correct recipe is verified
// (its distinct-state count pinned, so model drift shows) and every mutant is found, breaking
// the property it names.
#[test]
fn the_election_is_verified_and_its_mutants_are_found() {
    use zksim_sim::options::Shape;
    use zksim_sim::recipes;
    let options = Options {
        disconnects_max: 1,
        shape: Shape {
            masters: Some(2),
            ..Shape::default()
        },
        ..no_faults()
    };
    for recipe in recipes::all()
        .into_iter()
        .filter(|r| r.name.starts_with("election"))
    {
        let roles = (recipe.processes)(&options, 0);
        let r = explore(roles, &options, &(recipe.properties)(), &Limits::default());
        match recipe.breaks {
            None => {
                assert!(
                    r.complete && r.violation.is_none(),
                    "{}: {:?}",
                    recipe.name,
                    r.violation
                );
                assert_eq!(r.states, 24_986, "{}: the state count moved", recipe.name);
            }
            Some(p) => {
                let v = r
                    .violation
                    .unwrap_or_else(|| panic!("{} not found", recipe.name));
                assert_eq!(v.property, p, "{}", recipe.name);
            }
        }
    }
}
