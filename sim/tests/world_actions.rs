//! The world's actions, one kind at a time, each checked by what ZooKeeper shows after it: the
//! server's tree and sessions, and what reached the role. The tests drive a small probe role
//! (below) with explicit actions, asserting that each is enabled before taking it.

use std::hash::{DefaultHasher, Hash, Hasher};

use zksim_model::op::{Acl, CreateMode, EventType, KeeperState, Request, Response, WatchedEvent};
use zksim_model::role::{ChoiceId, Ctx, Input, Role, Tag, TimerId};
use zksim_model::server::Change;
use zksim_model::{Data, ErrorCode, Reply, SessionId};
use zksim_sim::action::{Action, ProcessId};
use zksim_sim::event::Event;
use zksim_sim::options::{Options, TimeMode};
use zksim_sim::world::{NotEnabled, World};

// ---- the probe role ---------------------------------------------------------------------

/// The persistent node every probe creates (the first wins) and watches.
const SHARED: &str = "/shared";
/// The create of `/shared`.
const CREATE_SHARED: Tag = 1;
/// The `getData(/shared, watch)` at start.
const GET_SHARED: Tag = 2;
/// A `setData(/shared)` on a choice or a timer.
const SET_SHARED: Tag = 3;
/// The `exists(path, watch)` on each watched path.
const WATCH: Tag = 4;
/// The create of ephemeral `i` is tagged `EPHEMERAL + i`.
const EPHEMERAL: Tag = 100;
/// After NodeExists on ephemeral `i`, `exists(watch)` on it is tagged `FOLLOW + i`.
const FOLLOW: Tag = 200;
/// The probe's choice.
const CHOICE: ChoiceId = 7;
/// The probe's timer.
const TIMER: TimerId = 9;

/// A role that makes its inputs visible: on start it creates `/shared` (persistent, holding its
/// name), its ephemerals (`/e-<name>` by default), reads `/shared` with a watch and leaves an
/// exists watch on each watched path; it may ask for a choice and set a timer. A choice or the
/// timer sets `/shared` to `<name>:choice:<option>` / `<name>:timer:<timer>`. An ephemeral
/// create that meets NodeExists watches the node and creates it again once it is deleted.
/// Every input is recorded, with the BUGGIFY decision taken on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Probe {
    name: String,
    ephemerals: Vec<String>,
    watched: Vec<String>,
    /// How many options its choice has; 0 for no choice.
    choice_options: u32,
    /// Whether it asks again after each choice.
    rearm: bool,
    timer_ms: Option<u64>,
    session: SessionId,
    inputs: Vec<Input>,
    buggified: Vec<bool>,
}

impl Probe {
    fn new(name: &str) -> Self {
        Probe {
            name: name.to_string(),
            ephemerals: vec![format!("/e-{name}")],
            watched: Vec::new(),
            choice_options: 0,
            rearm: false,
            timer_ms: None,
            session: 0,
            inputs: Vec::new(),
            buggified: Vec::new(),
        }
    }

    fn choosing(mut self, options: u32) -> Self {
        self.choice_options = options;
        self
    }

    fn rearming(mut self) -> Self {
        self.rearm = true;
        self
    }

    fn timer(mut self, after_ms: u64) -> Self {
        self.timer_ms = Some(after_ms);
        self
    }

    fn watching(mut self, path: &str) -> Self {
        self.watched.push(path.to_string());
        self
    }

    fn with_ephemeral(mut self, path: &str) -> Self {
        self.ephemerals.push(path.to_string());
        self
    }

    fn create_ephemeral(&self, i: usize, ctx: &mut Ctx) {
        ctx.call(
            EPHEMERAL + i as Tag,
            create(&self.ephemerals[i], CreateMode::Ephemeral, &self.name),
        );
    }

    fn set_shared(&self, data: String, ctx: &mut Ctx) {
        ctx.call(
            SET_SHARED,
            Request::SetData {
                path: SHARED.into(),
                data: Data::from(data.as_str()),
                version: -1,
            },
        );
    }
}

impl Role for Probe {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        self.inputs.push(input.clone());
        self.buggified.push(ctx.buggify("probe.input"));
        match input {
            Input::Start { session } => {
                self.session = *session;
                ctx.call(
                    CREATE_SHARED,
                    create(SHARED, CreateMode::Persistent, &self.name),
                );
                for i in 0..self.ephemerals.len() {
                    self.create_ephemeral(i, ctx);
                }
                ctx.call(
                    GET_SHARED,
                    Request::GetData {
                        path: SHARED.into(),
                        watch: true,
                    },
                );
                for path in &self.watched {
                    ctx.call(
                        WATCH,
                        Request::Exists {
                            path: path.clone(),
                            watch: true,
                        },
                    );
                }
                if self.choice_options > 0 {
                    ctx.choose(CHOICE, self.choice_options);
                }
                if let Some(ms) = self.timer_ms {
                    ctx.set_timer(TIMER, ms);
                }
            }
            Input::Reply {
                tag,
                reply: Err(ErrorCode::NodeExists),
            } if (EPHEMERAL..FOLLOW).contains(tag) => {
                let i = (tag - EPHEMERAL) as usize;
                ctx.call(
                    FOLLOW + i as Tag,
                    Request::Exists {
                        path: self.ephemerals[i].clone(),
                        watch: true,
                    },
                );
            }
            Input::Reply {
                tag,
                reply: Err(ErrorCode::NoNode),
            } if *tag >= FOLLOW => self.create_ephemeral((tag - FOLLOW) as usize, ctx),
            Input::Reply { .. } => {}
            Input::Event { event } => {
                if event.kind == EventType::NodeDeleted {
                    if let Some(i) = self.ephemerals.iter().position(|p| *p == event.path) {
                        self.create_ephemeral(i, ctx);
                    }
                }
            }
            Input::Choice { option, .. } => {
                self.set_shared(format!("{}:choice:{option}", self.name), ctx);
                if self.rearm {
                    ctx.choose(CHOICE, self.choice_options);
                }
            }
            Input::Timer { timer } => {
                self.set_shared(format!("{}:timer:{timer}", self.name), ctx);
            }
        }
    }
}

fn create(path: &str, mode: CreateMode, data: &str) -> Request {
    Request::Create {
        path: path.into(),
        data: Data::from(data),
        acl: Acl::open(),
        mode,
        ttl_ms: None,
        stat: false,
    }
}

// ---- helpers ----------------------------------------------------------------------------

/// Options with every knob a test may depend on spelled out, and no faults.
fn base(time: TimeMode) -> Options {
    Options {
        time,
        tick_ms: 2000,
        session_timeout_ms: 6000,
        message_delay_ms_max: 50,
        crashes_max: 0,
        disconnects_max: 0,
        expiries_max: 0,
        buggify: false,
        ..Options::default()
    }
}

fn build(options: Options, probes: Vec<Probe>, seed: u64) -> World<Probe> {
    let roles = probes.into_iter().map(|p| (p.name.clone(), p)).collect();
    World::new(options, roles, seed).0
}

fn world(options: Options, probes: Vec<Probe>) -> World<Probe> {
    build(options, probes, 0)
}

/// Takes an action that must be listed as enabled.
fn apply<R: Role>(world: &mut World<R>, action: Action) -> Vec<Event> {
    let enabled = world.enabled_actions();
    assert!(
        enabled.contains(&action),
        "{action:?} is not enabled; enabled: {enabled:?}"
    );
    world
        .step(&action)
        .unwrap_or_else(|e| panic!("{e} although listed"))
}

/// Lets `ms` of virtual time pass; `ms` must be within the advance limit.
fn advance<R: Role>(world: &mut World<R>, ms: u64) -> Vec<Event> {
    let limit = world
        .advance_limit_ms()
        .unwrap_or_else(|| panic!("time cannot pass: {:?}", world.enabled_actions()));
    assert!(ms <= limit, "advancing {ms} ms, over the limit {limit}");
    assert!(world
        .enabled_actions()
        .contains(&Action::Advance { ms: limit }));
    world
        .step(&Action::Advance { ms })
        .expect("within the limit")
}

fn is_delivery(a: &Action) -> bool {
    matches!(a, Action::ToServer { .. } | Action::ToClient { .. })
}

/// Delivers link messages (to the server and back) until no link holds any.
fn deliver_all<R: Role>(world: &mut World<R>) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..10_000 {
        let Some(a) = world.enabled_actions().into_iter().find(is_delivery) else {
            return events;
        };
        events.extend(apply(world, a));
    }
    panic!("the links never drained");
}

fn probe(world: &World<Probe>, p: ProcessId) -> &Probe {
    &world.processes()[p].role
}

fn inputs(world: &World<Probe>, p: ProcessId) -> &[Input] {
    &probe(world, p).inputs
}

/// The last `n` inputs of process `p`.
fn last_inputs(world: &World<Probe>, p: ProcessId, n: usize) -> &[Input] {
    let all = inputs(world, p);
    &all[all.len().saturating_sub(n)..]
}

fn session(world: &World<Probe>, p: ProcessId) -> SessionId {
    world.processes()[p].session().expect("a running process")
}

fn data(world: &World<Probe>, path: &str) -> Option<Data> {
    world.server().tree().get(path).map(|n| n.data.clone())
}

fn owner(world: &World<Probe>, path: &str) -> Option<SessionId> {
    world.server().tree().get(path).and_then(|n| n.owner())
}

/// The replies the role of process `p` got to calls tagged `tag`, in order.
fn replies(world: &World<Probe>, p: ProcessId, tag: Tag) -> Vec<Reply> {
    inputs(world, p)
        .iter()
        .filter_map(|i| match i {
            Input::Reply { tag: t, reply } if *t == tag => Some(reply.clone()),
            _ => None,
        })
        .collect()
}

fn session_input(state: KeeperState) -> Input {
    Input::Event {
        event: WatchedEvent::session(state),
    }
}

fn node_input(kind: EventType, path: &str) -> Input {
    Input::Event {
        event: WatchedEvent::node(kind, path),
    }
}

fn choose(process: ProcessId, option: u32) -> Action {
    Action::Choose {
        process,
        choice: CHOICE,
        option,
    }
}

fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn changes(events: &[Event]) -> Vec<Change> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Changed { change } => Some(change.clone()),
            _ => None,
        })
        .collect()
}

// ---- ToServer / ToClient ----------------------------------------------------------------

// Goal: a write is applied exactly when the server takes it off the link, not when it is sent.
#[test]
fn a_write_is_applied_when_the_server_takes_it_from_the_link() {
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a")]);
    let s = session(&w, 0);
    assert_eq!(inputs(&w, 0), [Input::Start { session: s }]);
    assert!(!w.server().tree().contains(SHARED), "sent, not applied");
    assert!(!w.server().tree().contains("/e-a"));

    let ev = apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(data(&w, SHARED), Some(Data::from("a")));
    assert!(!w.server().tree().contains("/e-a"), "still on the link");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Changed { change: Change::Created { path, .. } } if path == SHARED
    )));

    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(owner(&w, "/e-a"), Some(s));
    assert_eq!(
        inputs(&w, 0).len(),
        1,
        "no reply reaches the role before ToClient"
    );
}

// Goal: a reply reaches the role only when ToClient delivers it, one frame per step.
#[test]
fn a_reply_reaches_the_role_only_when_delivered() {
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a")]);
    apply(&mut w, Action::ToServer { process: 0 });
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(inputs(&w, 0).len(), 1);
    let ev = apply(&mut w, Action::ToClient { process: 0 });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Replied {
            process: 0,
            reply: Ok(Response::Create { .. }),
            ..
        }
    )));
    assert_eq!(
        last_inputs(&w, 0, 1),
        [Input::Reply {
            tag: CREATE_SHARED,
            reply: Ok(Response::Create {
                path: SHARED.into(),
                stat: None
            })
        }]
    );
    apply(&mut w, Action::ToClient { process: 0 });
    assert_eq!(
        last_inputs(&w, 0, 1),
        [Input::Reply {
            tag: EPHEMERAL,
            reply: Ok(Response::Create {
                path: "/e-a".into(),
                stat: None
            })
        }]
    );
    assert_eq!(inputs(&w, 0).len(), 3);
}

// Goal: one session's replies and watch events reach the role in the order the server sent them.
#[test]
fn replies_and_events_of_one_session_reach_the_role_in_fifo_order() {
    let probes = vec![Probe::new("a").choosing(2), Probe::new("b").choosing(2)];
    let mut w = world(base(TimeMode::Timed), probes);
    // a's three start requests are served; their replies wait on a's link.
    for _ in 0..3 {
        apply(&mut w, Action::ToServer { process: 0 });
    }
    // b's start requests, then b's setData: its NodeDataChanged for a's watch queues behind
    // a's replies.
    for _ in 0..3 {
        apply(&mut w, Action::ToServer { process: 1 });
    }
    apply(&mut w, choose(1, 1));
    assert_eq!(data(&w, SHARED), Some(Data::from("a")));
    apply(&mut w, Action::ToServer { process: 1 });
    assert_eq!(data(&w, SHARED), Some(Data::from("b:choice:1")));
    // Then a's own setData: its reply queues last.
    apply(&mut w, choose(0, 0));
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(data(&w, SHARED), Some(Data::from("a:choice:0")));

    let before = inputs(&w, 0).len();
    let mut got = Vec::new();
    while w
        .enabled_actions()
        .contains(&Action::ToClient { process: 0 })
    {
        apply(&mut w, Action::ToClient { process: 0 });
        assert_eq!(
            inputs(&w, 0).len(),
            before + got.len() + 1,
            "one frame, one input"
        );
        got.push(inputs(&w, 0).last().unwrap().clone());
    }
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(matches!(
        &got[0],
        Input::Reply {
            tag: CREATE_SHARED,
            reply: Ok(_)
        }
    ));
    assert!(matches!(
        &got[1],
        Input::Reply {
            tag: EPHEMERAL,
            reply: Ok(_)
        }
    ));
    // The read was served before b's write: it shows a's data.
    assert!(matches!(
        &got[2],
        Input::Reply { tag: GET_SHARED, reply: Ok(Response::Data { data, .. }) }
            if *data == Data::from("a")
    ));
    assert_eq!(got[3], node_input(EventType::NodeDataChanged, SHARED));
    assert!(matches!(
        &got[4],
        Input::Reply {
            tag: SET_SHARED,
            reply: Ok(Response::Stat { .. })
        }
    ));
}

// ---- Disconnect -------------------------------------------------------------------------

/// One probe with a pending choice, its start requests answered, and its setData on the link.
fn write_in_flight() -> World<Probe> {
    let options = Options {
        disconnects_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a").choosing(1)]);
    deliver_all(&mut w);
    apply(&mut w, choose(0, 0));
    assert!(w
        .enabled_actions()
        .contains(&Action::ToServer { process: 0 }));
    w
}

// Goal: a write cut off before the server reads it is lost; ConnectionLoss, then Disconnected.
#[test]
fn a_disconnect_before_the_server_reads_a_write_loses_it_unapplied() {
    let mut w = write_in_flight();
    let ev = apply(&mut w, Action::Disconnect { process: 0 });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Lost {
            process: 0,
            to_server: true,
            ..
        }
    )));
    assert_eq!(data(&w, SHARED), Some(Data::from("a")), "not applied");
    assert!(!w.enabled_actions().iter().any(is_delivery));
    assert_eq!(
        last_inputs(&w, 0, 3),
        [
            Input::Choice {
                choice: CHOICE,
                option: 0
            },
            Input::Reply {
                tag: SET_SHARED,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            session_input(KeeperState::Disconnected),
        ]
    );
    // Nothing changed while it was away: the reconnect fires no watch.
    apply(&mut w, Action::Reconnect { process: 0 });
    assert_eq!(
        last_inputs(&w, 0, 1),
        [session_input(KeeperState::SyncConnected)]
    );
}

// Goal: a write read before the cut is applied; the role still sees ConnectionLoss, Disconnected.
#[test]
fn a_disconnect_after_the_server_reads_a_write_loses_only_the_reply() {
    let mut w = write_in_flight();
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(data(&w, SHARED), Some(Data::from("a:choice:0")));
    let ev = apply(&mut w, Action::Disconnect { process: 0 });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Lost {
            process: 0,
            to_server: false,
            ..
        }
    )));
    assert_eq!(
        data(&w, SHARED),
        Some(Data::from("a:choice:0")),
        "applied all the same"
    );
    assert!(!w.enabled_actions().iter().any(is_delivery));
    assert_eq!(
        last_inputs(&w, 0, 3),
        [
            Input::Choice {
                choice: CHOICE,
                option: 0
            },
            Input::Reply {
                tag: SET_SHARED,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            session_input(KeeperState::Disconnected),
        ]
    );
    // The NodeDataChanged the write fired for the role's own watch was lost with the
    // connection; the watch, re-registered with lastZxid, fires it at the reconnect.
    apply(&mut w, Action::Reconnect { process: 0 });
    assert_eq!(
        last_inputs(&w, 0, 2),
        [
            session_input(KeeperState::SyncConnected),
            node_input(EventType::NodeDataChanged, SHARED),
        ]
    );
}

// ---- sessions and time ------------------------------------------------------------------

// Goal: an ephemeral survives a disconnect shorter than the timeout; Reconnect keeps the session.
#[test]
fn an_ephemeral_survives_a_disconnect_shorter_than_the_session_timeout() {
    let options = Options {
        disconnects_max: 2,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a")]);
    deliver_all(&mut w);
    let s = session(&w, 0);
    apply(&mut w, Action::Disconnect { process: 0 });
    // Expiry is due at the tick after the timeout: 6000 rounded up past 2000-ms ticks.
    assert_eq!(w.advance_limit_ms(), Some(8000));
    advance(&mut w, 5000);
    assert!(w.server().is_live(s));
    assert_eq!(owner(&w, "/e-a"), Some(s));
    let ev = apply(&mut w, Action::Reconnect { process: 0 });
    assert!(ev.contains(&Event::Reconnected {
        process: 0,
        expired: false
    }));
    assert_eq!(session(&w, 0), s, "the same session");
    assert_eq!(owner(&w, "/e-a"), Some(s));
    assert_eq!(
        last_inputs(&w, 0, 2),
        [
            session_input(KeeperState::Disconnected),
            session_input(KeeperState::SyncConnected),
        ]
    );
    // The reconnect renewed the session: nothing is silent, nothing waits for time; cut off
    // again at once, it has a whole timeout (and the tick rounding) from the reconnect.
    assert_eq!(w.advance_limit_ms(), None);
    apply(&mut w, Action::Disconnect { process: 0 });
    assert_eq!(w.advance_limit_ms(), Some(7000));
}

// Goal: an expired session loses its ephemeral; the role learns Expired; calls get SessionExpired.
#[test]
fn an_ephemeral_vanishes_when_a_disconnected_session_expires() {
    let options = Options {
        disconnects_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a").choosing(1)]);
    deliver_all(&mut w);
    let s = session(&w, 0);
    apply(&mut w, Action::Disconnect { process: 0 });
    advance(&mut w, 6000);
    assert!(
        w.server().is_live(s),
        "the timeout has passed, the tick has not"
    );
    assert_eq!(owner(&w, "/e-a"), Some(s));
    let ev = advance(&mut w, 2000);
    assert_eq!(w.now_ms(), 8000);
    assert!(!w.server().is_live(s));
    assert!(!w.server().sessions().contains_key(&s));
    assert!(!w.server().tree().contains("/e-a"));
    let closed = changes(&ev);
    assert!(matches!(
        &closed[0],
        Change::SessionClosed { session, expired: true, .. } if *session == s
    ));
    assert!(closed
        .iter()
        .any(|c| matches!(c, Change::Deleted { path, .. } if path == "/e-a")));
    // The role has heard nothing yet: it learns at the reconnect.
    assert_eq!(
        last_inputs(&w, 0, 1),
        [session_input(KeeperState::Disconnected)]
    );
    let ev = apply(&mut w, Action::Reconnect { process: 0 });
    assert!(ev.contains(&Event::Reconnected {
        process: 0,
        expired: true
    }));
    assert_eq!(last_inputs(&w, 0, 1), [session_input(KeeperState::Expired)]);
    // A later call fails at once, without reaching the server.
    let zxid = w.server().last_zxid();
    apply(&mut w, choose(0, 0));
    assert_eq!(
        last_inputs(&w, 0, 1),
        [Input::Reply {
            tag: SET_SHARED,
            reply: Err(ErrorCode::SessionExpired)
        }]
    );
    assert!(!w.enabled_actions().iter().any(is_delivery));
    assert_eq!(w.server().last_zxid(), zxid);
    assert_eq!(data(&w, SHARED), Some(Data::from("a")));
}

// Goal: a connected session heartbeats through Advance steps totalling many timeouts.
#[test]
fn a_connected_session_survives_time_passing() {
    // A far timer gives time a reason to pass.
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a").timer(100_000)]);
    deliver_all(&mut w);
    let s = session(&w, 0);
    let heard = inputs(&w, 0).len();
    for _ in 0..12 {
        advance(&mut w, 7000);
        assert!(w.server().is_live(s));
        assert_eq!(owner(&w, "/e-a"), Some(s));
        assert!(w.server().sessions()[&s].deadline_ms > w.now_ms());
    }
    assert_eq!(w.now_ms(), 84_000);
    assert_eq!(inputs(&w, 0).len(), heard, "the role heard nothing");
}

// ---- Crash / Restart --------------------------------------------------------------------

/// Crashes process 0, restarts it and lets its new session meet the old `/e-a`; returns the
/// old and the new session.
fn crash_and_restart(w: &mut World<Probe>) -> (SessionId, SessionId) {
    deliver_all(w);
    let old = session(w, 0);
    let ev = apply(w, Action::Crash { process: 0 });
    assert!(ev.contains(&Event::Crashed { process: 0 }));
    assert!(changes(&ev).is_empty(), "a crash is not a close");
    assert!(!w.processes()[0].is_up());
    assert!(w.server().is_live(old), "the session lives on");
    assert_eq!(owner(w, "/e-a"), Some(old));
    let before = inputs(w, 0).len();
    apply(w, Action::Restart { process: 0 });
    let new = session(w, 0);
    assert_ne!(new, old);
    assert!(w.server().is_live(new) && w.server().is_live(old));
    assert_eq!(
        inputs(w, 0),
        [Input::Start { session: new }],
        "the role starts afresh ({before} inputs before)"
    );
    deliver_all(w);
    assert_eq!(
        replies(w, 0, EPHEMERAL),
        vec![Err(ErrorCode::NodeExists)],
        "the old session still holds /e-a"
    );
    assert_eq!(owner(w, "/e-a"), Some(old));
    (old, new)
}

// Goal (timed): a restart meets its old session's ephemeral until the clock expires that session.
#[test]
fn a_restarted_process_gets_node_exists_until_its_old_session_expires_by_the_clock() {
    let options = Options {
        crashes_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a")]);
    let (old, new) = crash_and_restart(&mut w);
    // The old session was last heard at 0: it expires at 8000.
    assert_eq!(w.advance_limit_ms(), Some(8000));
    advance(&mut w, 7999);
    assert_eq!(owner(&w, "/e-a"), Some(old));
    let ev = advance(&mut w, 1);
    assert!(!w.server().is_live(old));
    assert!(w.server().is_live(new));
    assert!(changes(&ev).iter().any(|c| matches!(
        c,
        Change::SessionClosed { session, expired: true, .. } if *session == old
    )));
    deliver_all(&mut w);
    assert!(inputs(&w, 0).contains(&node_input(EventType::NodeDeleted, "/e-a")));
    assert!(matches!(
        replies(&w, 0, EPHEMERAL).as_slice(),
        [Err(ErrorCode::NodeExists), Ok(Response::Create { .. })]
    ));
    assert_eq!(owner(&w, "/e-a"), Some(new));
}

// Goal (abstract): a restart meets its old session's ephemeral until Expire of that session.
#[test]
fn a_restarted_process_gets_node_exists_until_its_old_session_is_expired() {
    let options = Options {
        crashes_max: 1,
        expiries_max: 1,
        ..base(TimeMode::Abstract)
    };
    let mut w = world(options, vec![Probe::new("a")]);
    let (old, new) = crash_and_restart(&mut w);
    let enabled = w.enabled_actions();
    assert!(enabled.contains(&Action::Expire { session: old }));
    assert!(!enabled.contains(&Action::Expire { session: new }));
    apply(&mut w, Action::Expire { session: old });
    assert!(!w.server().is_live(old));
    assert!(!w.server().tree().contains("/e-a"));
    deliver_all(&mut w);
    assert!(matches!(
        replies(&w, 0, EPHEMERAL).as_slice(),
        [Err(ErrorCode::NodeExists), Ok(Response::Create { .. })]
    ));
    assert_eq!(owner(&w, "/e-a"), Some(new));
}

// ---- Reconnect --------------------------------------------------------------------------

// Goal: Reconnect re-registers watches with lastZxid: a change made while away fires at once.
#[test]
fn a_reconnect_fires_a_data_watch_on_a_node_changed_while_away() {
    let options = Options {
        disconnects_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a"), Probe::new("b").choosing(1)]);
    deliver_all(&mut w);
    let a = session(&w, 0);
    assert!(w.server().watches().data.contains(SHARED, a));
    apply(&mut w, Action::Disconnect { process: 0 });
    assert!(
        !w.server().watches().data.contains(SHARED, a),
        "the server drops a closed connection's watches"
    );
    apply(&mut w, choose(1, 0));
    deliver_all(&mut w);
    assert_eq!(data(&w, SHARED), Some(Data::from("b:choice:0")));
    assert_eq!(
        last_inputs(&w, 0, 1),
        [session_input(KeeperState::Disconnected)],
        "nothing reaches a disconnected client"
    );
    apply(&mut w, Action::Reconnect { process: 0 });
    assert_eq!(session(&w, 0), a);
    assert_eq!(
        last_inputs(&w, 0, 2),
        [
            session_input(KeeperState::SyncConnected),
            node_input(EventType::NodeDataChanged, SHARED),
        ]
    );
    // The watch fired: it is neither at the server nor held by the client any more.
    assert!(!w.server().watches().data.contains(SHARED, a));
    let client = w.processes()[0].client().unwrap();
    assert!(!client.watches().data.contains(SHARED));
}

// Goal: Reconnect with nothing changed re-arms the watch at the server for later changes.
#[test]
fn a_reconnect_re_registers_an_unfired_watch_at_the_server() {
    let options = Options {
        disconnects_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a"), Probe::new("b").choosing(1)]);
    deliver_all(&mut w);
    let a = session(&w, 0);
    apply(&mut w, Action::Disconnect { process: 0 });
    apply(&mut w, Action::Reconnect { process: 0 });
    assert_eq!(
        last_inputs(&w, 0, 1),
        [session_input(KeeperState::SyncConnected)]
    );
    assert!(w.server().watches().data.contains(SHARED, a));
    apply(&mut w, choose(1, 0));
    deliver_all(&mut w);
    assert_eq!(
        last_inputs(&w, 0, 1),
        [node_input(EventType::NodeDataChanged, SHARED)]
    );
}

// ---- Expire (abstract time) -------------------------------------------------------------

// Goal: Expire takes silent sessions in budget, their ephemerals at one zxid; then orphans only.
#[test]
fn expire_takes_only_silent_sessions_and_deletes_their_ephemerals_at_one_zxid() {
    let options = Options {
        crashes_max: 1,
        disconnects_max: 2,
        expiries_max: 1,
        ..base(TimeMode::Abstract)
    };
    let probes = vec![
        Probe::new("a").with_ephemeral("/e-a2"),
        Probe::new("b"),
        Probe::new("w").watching("/e-a").watching("/e-a2"),
    ];
    let mut w = world(options, probes);
    deliver_all(&mut w);
    let (a, b, ws) = (session(&w, 0), session(&w, 1), session(&w, 2));
    assert!(w.server().watches().data.contains("/e-a", ws));
    assert!(w.server().watches().data.contains("/e-a2", ws));
    let expiries = |w: &World<Probe>| -> Vec<Action> {
        w.enabled_actions()
            .into_iter()
            .filter(|x| matches!(x, Action::Expire { .. }))
            .collect()
    };
    assert!(expiries(&w).is_empty(), "every session is connected");

    apply(&mut w, Action::Disconnect { process: 0 });
    assert_eq!(expiries(&w), [Action::Expire { session: a }]);
    apply(&mut w, Action::Crash { process: 1 });
    assert_eq!(
        expiries(&w),
        [Action::Expire { session: a }, Action::Expire { session: b }]
    );

    let zxid = w.server().last_zxid();
    let ev = apply(&mut w, Action::Expire { session: a });
    assert_eq!(w.server().last_zxid(), zxid + 1, "one closeSession txn");
    let mut deleted: Vec<String> = Vec::new();
    for c in changes(&ev) {
        match c {
            Change::SessionClosed {
                zxid: z,
                session,
                expired,
            } => {
                assert_eq!((z, session, expired), (zxid + 1, a, true));
            }
            Change::Deleted { zxid: z, path, by } => {
                assert_eq!((z, by), (zxid + 1, None), "deleted by the expiry");
                deleted.push(path);
            }
            other => panic!("unexpected change {other:?}"),
        }
    }
    deleted.sort();
    assert_eq!(deleted, ["/e-a", "/e-a2"]);
    assert!(!w.server().is_live(a));
    assert!(!w.server().tree().contains("/e-a") && !w.server().tree().contains("/e-a2"));
    deliver_all(&mut w);
    let seen: Vec<&Input> = inputs(&w, 2)
        .iter()
        .filter(|i| matches!(i, Input::Event { event } if event.kind == EventType::NodeDeleted))
        .collect();
    assert_eq!(seen.len(), 2);
    assert!(seen.contains(&&node_input(EventType::NodeDeleted, "/e-a")));
    assert!(seen.contains(&&node_input(EventType::NodeDeleted, "/e-a2")));

    assert_eq!(w.budget().expiries, 1);
    assert!(
        expiries(&w).is_empty(),
        "the budget is spent, though b is silent"
    );
    apply(&mut w, Action::Reconnect { process: 0 });
    assert_eq!(last_inputs(&w, 0, 1), [session_input(KeeperState::Expired)]);

    // w goes silent too; after StopFaults only b's session, which no running process holds,
    // may expire (w may still come back).
    apply(&mut w, Action::Disconnect { process: 2 });
    apply(&mut w, Action::StopFaults);
    assert_eq!(expiries(&w), [Action::Expire { session: b }]);
    apply(&mut w, Action::Restart { process: 1 });
    assert_eq!(
        expiries(&w),
        [Action::Expire { session: b }],
        "its process moved to a new session"
    );
    apply(&mut w, Action::Expire { session: b });
    assert_eq!(w.budget().expiries, 1, "no fault after StopFaults");
    assert!(!w.server().is_live(b));
    assert!(w.server().is_live(ws));
    assert!(expiries(&w).is_empty());
}

// ---- Timer ------------------------------------------------------------------------------

// Goal (timed): a timer is enabled only once Advance reaches its due time; it reaches the role.
#[test]
fn a_timer_fires_only_once_due_when_time_is_timed() {
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a").timer(1000)]);
    let timer = Action::Timer {
        process: 0,
        timer: TIMER,
    };
    assert!(!w.enabled_actions().contains(&timer));
    deliver_all(&mut w);
    assert_eq!(w.advance_limit_ms(), Some(1000), "time stops at the timer");
    advance(&mut w, 600);
    assert!(!w.enabled_actions().contains(&timer));
    advance(&mut w, 400);
    assert_eq!(w.now_ms(), 1000);
    assert!(w.enabled_actions().contains(&timer));
    assert_eq!(
        w.advance_limit_ms(),
        None,
        "a due timer holds time until it fires"
    );
    apply(&mut w, timer.clone());
    assert_eq!(last_inputs(&w, 0, 1), [Input::Timer { timer: TIMER }]);
    assert!(!w.enabled_actions().contains(&timer), "it fired once");
    deliver_all(&mut w);
    assert_eq!(data(&w, SHARED), Some(Data::from("a:timer:9")));
}

// Goal (abstract): a timer may fire at once, whatever its delay.
#[test]
fn a_timer_is_enabled_at_once_when_time_is_abstract() {
    let mut w = world(
        base(TimeMode::Abstract),
        vec![Probe::new("a").timer(1_000_000)],
    );
    let timer = Action::Timer {
        process: 0,
        timer: TIMER,
    };
    assert!(w.enabled_actions().contains(&timer));
    assert_eq!(w.advance_limit_ms(), None);
    assert!(!w
        .enabled_actions()
        .iter()
        .any(|a| matches!(a, Action::Advance { .. })));
    assert!(w.step(&Action::Advance { ms: 1 }).is_err(), "no clock");
    apply(&mut w, timer);
    deliver_all(&mut w);
    assert_eq!(data(&w, SHARED), Some(Data::from("a:timer:9")));
}

// ---- Choose -----------------------------------------------------------------------------

// Goal: every option of a pending choice is enabled, and the one chosen reaches the role.
#[test]
fn every_option_of_a_choice_is_enabled_and_the_chosen_one_reaches_the_role() {
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a").choosing(3)]);
    let options: Vec<Action> = w
        .enabled_actions()
        .into_iter()
        .filter(|a| matches!(a, Action::Choose { .. }))
        .collect();
    assert_eq!(options, [choose(0, 0), choose(0, 1), choose(0, 2)]);
    let ev = apply(&mut w, choose(0, 2));
    assert!(ev.contains(&Event::Chose {
        process: 0,
        choice: CHOICE,
        option: 2
    }));
    assert_eq!(
        last_inputs(&w, 0, 1),
        [Input::Choice {
            choice: CHOICE,
            option: 2
        }]
    );
    assert!(
        !w.enabled_actions()
            .iter()
            .any(|a| matches!(a, Action::Choose { .. })),
        "a choice is answered once"
    );
    deliver_all(&mut w);
    assert_eq!(data(&w, SHARED), Some(Data::from("a:choice:2")));
}

// ---- Advance ----------------------------------------------------------------------------

// Goal: time never passes its limit; with no message delay allowed, not while one is in flight.
#[test]
fn time_never_advances_beyond_its_limit() {
    let mut w = world(base(TimeMode::Timed), vec![Probe::new("a").timer(1000)]);
    // The start requests are on the link since 0 and arrive within 50 ms.
    assert_eq!(w.advance_limit_ms(), Some(50));
    assert!(w.enabled_actions().contains(&Action::Advance { ms: 50 }));
    let before = w.clone();
    assert_eq!(
        w.step(&Action::Advance { ms: 51 }),
        Err(NotEnabled(Action::Advance { ms: 51 }))
    );
    assert_eq!(w, before);
    assert!(w.step(&Action::Advance { ms: 0 }).is_err());
    advance(&mut w, 50);
    assert_eq!(w.advance_limit_ms(), None, "the messages are due now");
    deliver_all(&mut w);
    assert_eq!(w.advance_limit_ms(), Some(950));
    assert!(w.step(&Action::Advance { ms: 951 }).is_err());
    advance(&mut w, 950);
    assert_eq!(w.now_ms(), 1000);

    let options = Options {
        message_delay_ms_max: 0,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a").timer(1000)]);
    assert_eq!(w.advance_limit_ms(), None, "a message is in flight");
    assert!(!w
        .enabled_actions()
        .iter()
        .any(|a| matches!(a, Action::Advance { .. })));
    assert!(w.step(&Action::Advance { ms: 1 }).is_err());
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(w.advance_limit_ms(), None, "its reply is in flight");
    deliver_all(&mut w);
    assert_eq!(w.advance_limit_ms(), Some(1000));
}

// ---- StopFaults -------------------------------------------------------------------------

// Goal: after StopFaults no Crash or Disconnect is enabled, while Restart and Reconnect still are.
#[test]
fn after_stop_faults_only_repairs_remain() {
    let options = Options {
        crashes_max: 3,
        disconnects_max: 3,
        ..base(TimeMode::Timed)
    };
    let probes = vec![Probe::new("a"), Probe::new("b"), Probe::new("c")];
    let mut w = world(options, probes);
    deliver_all(&mut w);
    apply(&mut w, Action::Crash { process: 0 });
    apply(&mut w, Action::Disconnect { process: 1 });
    assert!(w.enabled_actions().contains(&Action::Crash { process: 2 }));
    apply(&mut w, Action::StopFaults);
    assert!(!w.faults_on());
    let faults = |w: &World<Probe>| {
        w.enabled_actions()
            .into_iter()
            .filter(|a| a.is_fault() || *a == Action::StopFaults)
            .collect::<Vec<_>>()
    };
    assert_eq!(faults(&w), []);
    let enabled = w.enabled_actions();
    assert!(enabled.contains(&Action::Restart { process: 0 }));
    assert!(enabled.contains(&Action::Reconnect { process: 1 }));
    apply(&mut w, Action::Restart { process: 0 });
    apply(&mut w, Action::Reconnect { process: 1 });
    deliver_all(&mut w);
    assert_eq!(faults(&w), []);
    assert!(w.processes().iter().all(|p| p.is_up()));
}

// ---- RestartServer -----------------------------------------------------------------------

fn restarts(n: u32, time: TimeMode) -> Options {
    Options {
        server_restarts_max: n,
        crashes_max: 1,
        ..base(time)
    }
}

// Goal: a server restart keeps the tree, the zxid, every session and its ephemerals (a
// crashed process's too), closes every connection and drops every watch; each client reads
// the close, is disconnected, and gets its own session back with its watches re-registered.
#[test]
fn a_server_restart_keeps_data_and_sessions_and_closes_every_connection() {
    let probes = vec![
        Probe::new("a"),
        Probe::new("b").choosing(1),
        Probe::new("c"),
    ];
    let mut w = world(restarts(1, TimeMode::Abstract), probes);
    deliver_all(&mut w);
    let (a, b, c) = (session(&w, 0), session(&w, 1), session(&w, 2));
    apply(&mut w, Action::Crash { process: 2 });
    let zxid = w.server().last_zxid();
    let tree = w.server().tree().clone();
    let ev = apply(&mut w, Action::RestartServer);
    assert!(ev.contains(&Event::ServerRestarted { zxid }));
    assert_eq!(w.server().tree(), &tree, "the tree survives");
    assert_eq!(w.server().last_zxid(), zxid, "a restart writes nothing");
    assert_eq!(
        [a, b, c].map(|s| w.server().is_live(s)),
        [true; 3],
        "every session survives, the crashed process's too"
    );
    assert_eq!(owner(&w, "/e-c"), Some(c));
    assert!(
        !w.server().watches().data.contains(SHARED, a),
        "watches are gone"
    );
    assert!(
        !w.enabled_actions().contains(&Action::RestartServer),
        "the budget is spent"
    );
    // Each connected client has the close on its link; the crashed one has nothing.
    for p in [0, 1] {
        assert_eq!(
            w.processes()[p].to_client().collect::<Vec<_>>(),
            [&zksim_model::server::ToClient::Drop]
        );
    }
    deliver_all(&mut w);
    for p in [0, 1] {
        assert_eq!(
            last_inputs(&w, p, 1),
            [session_input(KeeperState::Disconnected)]
        );
    }
    apply(&mut w, Action::Reconnect { process: 0 });
    apply(&mut w, Action::Reconnect { process: 1 });
    assert_eq!(
        (session(&w, 0), session(&w, 1)),
        (a, b),
        "the same sessions"
    );
    assert!(
        w.server().watches().data.contains(SHARED, a),
        "the watch is registered again by the reconnect"
    );
    apply(&mut w, choose(1, 0));
    deliver_all(&mut w);
    assert_eq!(
        last_inputs(&w, 0, 1),
        [node_input(EventType::NodeDataChanged, SHARED)]
    );
}

// Goal: what the server wrote before it stopped reaches the client, before the close; a
// request still on its way is lost unapplied and fails with ConnectionLoss.
#[test]
fn a_server_restart_delivers_what_was_sent_and_loses_what_was_on_the_way() {
    let probes = vec![Probe::new("a").choosing(1).rearming()];
    let mut w = world(restarts(1, TimeMode::Timed), probes);
    deliver_all(&mut w);
    apply(&mut w, choose(0, 0));
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(data(&w, SHARED), Some(Data::from("a:choice:0")));
    apply(&mut w, choose(0, 0));
    apply(&mut w, Action::RestartServer);
    assert!(
        !w.enabled_actions()
            .contains(&Action::ToServer { process: 0 }),
        "the stopped server reads nothing more"
    );
    let ev = deliver_all(&mut w);
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Lost {
            process: 0,
            to_server: true,
            ..
        }
    )));
    assert_eq!(data(&w, SHARED), Some(Data::from("a:choice:0")));
    assert_eq!(
        last_inputs(&w, 0, 4),
        [
            // The watch event goes before the reply of the write that fired it.
            node_input(EventType::NodeDataChanged, SHARED),
            Input::Reply {
                tag: SET_SHARED,
                reply: Ok(Response::Stat {
                    stat: w.server().tree().get(SHARED).unwrap().stat()
                }),
            },
            Input::Reply {
                tag: SET_SHARED,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            session_input(KeeperState::Disconnected),
        ]
    );
}

// Goal: server restarts are faults: as many as the budget, none once faults stop, and none
// at all by default.
#[test]
fn server_restarts_are_bounded_by_their_budget() {
    let mut w = world(base(TimeMode::Abstract), vec![Probe::new("a")]);
    assert!(!w.enabled_actions().contains(&Action::RestartServer));
    assert!(w.step(&Action::RestartServer).is_err());
    let mut w = world(restarts(2, TimeMode::Abstract), vec![Probe::new("a")]);
    assert!(Action::RestartServer.is_fault());
    apply(&mut w, Action::RestartServer);
    apply(&mut w, Action::RestartServer);
    assert_eq!(w.budget().server_restarts, 2);
    assert!(!w.enabled_actions().contains(&Action::RestartServer));
    let mut w = world(restarts(2, TimeMode::Abstract), vec![Probe::new("a")]);
    apply(&mut w, Action::StopFaults);
    assert!(!w.enabled_actions().contains(&Action::RestartServer));
}

// ---- determinism ------------------------------------------------------------------------

/// A fixed walk: at step `i`, the enabled action at a pseudo-random index (StopFaults only
/// after 200 steps, so that faults get their chance).
fn walk(w: &mut World<Probe>, i: u64) -> (Action, Vec<Event>) {
    let mut enabled = w.enabled_actions();
    if i < 200 && enabled.len() > 1 {
        enabled.retain(|a| *a != Action::StopFaults);
    }
    let pick = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33) as usize % enabled.len();
    let a = enabled[pick].clone();
    let ev = w.step(&a).expect("listed");
    (a, ev)
}

fn determinism_world() -> World<Probe> {
    let options = Options {
        crashes_max: 2,
        disconnects_max: 3,
        expiries_max: 2,
        buggify: true,
        ..base(TimeMode::Timed)
    };
    let probes = vec![
        Probe::new("a").choosing(3).rearming().timer(120),
        Probe::new("b").choosing(2).rearming().watching("/e-a"),
        Probe::new("c").timer(40),
    ];
    build(options, probes, 42)
}

// Goal: worlds stepped alike stay equal, hash alike and list the same enabled actions.
#[test]
fn worlds_stepped_alike_stay_equal_and_hash_alike() {
    let (mut x, mut y) = (determinism_world(), determinism_world());
    assert_eq!(x, y);
    assert_eq!(fingerprint(&x), fingerprint(&y));
    let mut kinds = std::collections::BTreeSet::new();
    for i in 0..300 {
        assert_eq!(x.enabled_actions(), y.enabled_actions());
        if x.enabled_actions().is_empty() {
            break;
        }
        let (a, ex) = walk(&mut x, i);
        let ey = y.step(&a).expect("enabled in the twin");
        assert_eq!(ex, ey, "step {i}: {a:?}");
        assert_eq!(x, y, "step {i}: {a:?}");
        assert_eq!(fingerprint(&x), fingerprint(&y));
        kinds.insert(
            format!("{a:?}")
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
        );
        let copy = x.clone();
        assert_eq!(copy, x);
        assert_eq!(fingerprint(&copy), fingerprint(&x));
    }
    assert!(kinds.len() >= 8, "the walk took few kinds of action");
    // Equality is not vacuous: one more step on one twin tells them apart.
    if let Some(a) = x.enabled_actions().into_iter().find(is_delivery) {
        x.step(&a).unwrap();
        assert_ne!(x, y);
    }
}

// ---- BUGGIFY ----------------------------------------------------------------------------

/// The BUGGIFY decisions each process's role took over a fixed run.
fn buggify_log(buggify: bool, seed: u64) -> Vec<Vec<bool>> {
    let options = Options {
        buggify,
        ..base(TimeMode::Timed)
    };
    let probes = vec![
        Probe::new("a").choosing(2).rearming(),
        Probe::new("b").choosing(2).rearming(),
    ];
    let mut w = build(options, probes, seed);
    for round in 0..20 {
        deliver_all(&mut w);
        apply(&mut w, choose(0, round % 2));
        apply(&mut w, choose(1, round % 2));
    }
    deliver_all(&mut w);
    w.processes()
        .iter()
        .map(|p| p.role.buggified.clone())
        .collect()
}

// Goal: BUGGIFY decisions follow the seed: alike for one seed, different across some, none if off.
#[test]
fn buggify_decisions_follow_the_seed() {
    let logs: Vec<Vec<Vec<bool>>> = (0..64).map(|seed| buggify_log(true, seed)).collect();
    for (seed, log) in logs.iter().enumerate().take(8) {
        assert_eq!(*log, buggify_log(true, seed as u64), "seed {seed}");
    }
    assert!(log_len(&logs[0]) > 40, "too few inputs to tell");
    assert!(
        logs.iter().any(|l| *l != logs[0]),
        "every seed decided alike"
    );
    assert!(
        logs.iter().flatten().flatten().any(|&b| b),
        "no point ever fired"
    );
    assert!(
        logs.iter().any(|l| l.iter().flatten().all(|&b| !b)),
        "every seed enabled the point"
    );
    for seed in [0, 1, 7] {
        let off = buggify_log(false, seed);
        assert!(off.iter().flatten().all(|&b| !b));
    }
    // Off, the seed does not enter the world at all.
    let probes = || vec![Probe::new("a").choosing(2)];
    assert_eq!(
        build(base(TimeMode::Timed), probes(), 1),
        build(base(TimeMode::Timed), probes(), 2)
    );
}

fn log_len(log: &[Vec<bool>]) -> usize {
    log.iter().map(Vec::len).sum()
}

// ---- refusals ---------------------------------------------------------------------------

// Goal: step refuses a disabled action with an error naming it and leaves the world unchanged.
#[test]
fn a_disabled_action_is_refused_and_changes_nothing() {
    let options = Options {
        crashes_max: 1,
        disconnects_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a").choosing(2).timer(1000)]);
    deliver_all(&mut w);
    let refused = [
        Action::ToServer { process: 0 },
        Action::ToClient { process: 0 },
        Action::ToServer { process: 5 },
        Action::Timer {
            process: 0,
            timer: TIMER,
        },
        Action::Timer {
            process: 0,
            timer: TIMER + 1,
        },
        choose(0, 2),
        Action::Choose {
            process: 0,
            choice: CHOICE + 1,
            option: 0,
        },
        Action::Restart { process: 0 },
        Action::Reconnect { process: 0 },
        Action::Expire {
            session: session(&w, 0),
        },
        Action::Advance { ms: 0 },
        Action::Advance { ms: 1001 },
    ];
    for a in refused {
        let before = w.clone();
        assert!(!w.enabled_actions().contains(&a), "{a:?}");
        assert_eq!(w.step(&a), Err(NotEnabled(a.clone())));
        assert_eq!(w, before, "{a:?} changed the world");
        assert_eq!(fingerprint(&w), fingerprint(&before));
    }
    // A spent budget disables its fault.
    apply(&mut w, Action::Disconnect { process: 0 });
    apply(&mut w, Action::Reconnect { process: 0 });
    let before = w.clone();
    let a = Action::Disconnect { process: 0 };
    assert!(!w.enabled_actions().contains(&a));
    assert_eq!(w.step(&a), Err(NotEnabled(a.clone())));
    assert_eq!(w, before);
}

// ---- a connection the server drops ------------------------------------------------------

/// A test-only role that sends a setData over `jute.maxbuffer` at start, optionally followed
/// (pipelined on the same connection) by a create of `/after`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Oversize {
    then_create: bool,
    inputs: Vec<Input>,
}

impl Role for Oversize {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        self.inputs.push(input.clone());
        if let Input::Start { .. } = input {
            ctx.call(
                1,
                Request::SetData {
                    path: "/".into(),
                    data: Data::bytes(vec![0; 1 << 20]),
                    version: -1,
                },
            );
            if self.then_create {
                ctx.call(2, create("/after", CreateMode::Persistent, "x"));
            }
        }
    }
}

fn oversize_world(then_create: bool) -> World<Oversize> {
    let role = Oversize {
        then_create,
        inputs: Vec::new(),
    };
    World::new(base(TimeMode::Timed), vec![("big".to_string(), role)], 0).0
}

// Goal: a server-dropped connection applies nothing; ConnectionLoss, Disconnected when read.
#[test]
fn a_connection_the_server_drops_fails_pending_calls_when_the_client_reads_the_drop() {
    let mut w = oversize_world(false);
    let s = w.processes()[0].session().unwrap();
    let zxid = w.server().last_zxid();
    apply(&mut w, Action::ToServer { process: 0 });
    assert_eq!(w.server().last_zxid(), zxid, "nothing applied");
    assert!(!w.server().sessions()[&s].connected);
    assert_eq!(w.processes()[0].role.inputs.len(), 1, "not read yet");
    let ev = apply(&mut w, Action::ToClient { process: 0 });
    assert!(ev.contains(&Event::Disconnected { process: 0 }));
    assert_eq!(
        w.processes()[0].role.inputs[1..],
        [
            Input::Reply {
                tag: 1,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            session_input(KeeperState::Disconnected),
        ]
    );
    assert!(w.server().is_live(s), "the session lives on");
    assert!(w
        .enabled_actions()
        .contains(&Action::Reconnect { process: 0 }));
}

// Goal: a request pipelined behind an oversize one (connection closed by the server) is lost.
#[test]
fn a_request_behind_an_oversize_one_is_not_applied() {
    let mut w = oversize_world(true);
    apply(&mut w, Action::ToServer { process: 0 });
    deliver_all(&mut w);
    assert!(
        !w.server().tree().contains("/after"),
        "a request read from a closed connection was applied"
    );
    assert_eq!(
        w.processes()[0].role.inputs[1..],
        [
            Input::Reply {
                tag: 1,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            Input::Reply {
                tag: 2,
                reply: Err(ErrorCode::ConnectionLoss)
            },
            session_input(KeeperState::Disconnected),
        ]
    );
}

// Goal: a killed process never restarts; its session lives on until it expires, and then its
// ephemeral is gone for good.
#[test]
fn a_killed_process_never_restarts_and_its_ephemeral_goes_with_its_session() {
    let options = Options {
        kills_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options, vec![Probe::new("a"), Probe::new("b")]);
    deliver_all(&mut w);
    let old = session(&w, 0);
    assert_eq!(owner(&w, "/e-a"), Some(old));
    apply(&mut w, Action::Kill { process: 0 });
    assert!(!w.processes()[0].is_up());
    assert!(w.processes()[0].is_killed());
    assert_eq!(owner(&w, "/e-a"), Some(old), "a kill is not a close");
    assert!(!w
        .enabled_actions()
        .contains(&Action::Restart { process: 0 }));
    assert!(
        !w.enabled_actions()
            .iter()
            .any(|a| matches!(a, Action::Kill { .. })),
        "budget spent"
    );
    let limit = w
        .advance_limit_ms()
        .expect("the silent session waits for time");
    advance(&mut w, limit);
    assert!(!w.server().is_live(old));
    assert_eq!(owner(&w, "/e-a"), None);
    apply(&mut w, Action::StopFaults);
    assert!(!w
        .enabled_actions()
        .contains(&Action::Restart { process: 0 }));
}

// ---- Stall -------------------------------------------------------------------------------

// Goal: a stalled process's event thread holds the frames the server sent it (they no longer
// bound the clock, its connection keeps the session alive), until the stall's end; a stall
// is a fault within its budget, for timed runs only, at most a day long, and a crash ends it.
#[test]
fn a_stall_holds_the_frames_and_lets_time_pass_until_it_ends() {
    let options = Options {
        stalls_max: 2,
        crashes_max: 1,
        ..base(TimeMode::Timed)
    };
    let mut w = world(options.clone(), vec![Probe::new("p0")]);
    while w.is_enabled(&Action::ToServer { process: 0 }) {
        apply(&mut w, Action::ToServer { process: 0 });
    }
    assert!(w.is_enabled(&Action::ToClient { process: 0 }));
    let too_long = Action::Stall {
        process: 0,
        ms: Options::DURATION_MS_MAX + 1,
    };
    assert!(!w.is_enabled(&too_long));
    assert!(w.step(&too_long).is_err());
    let start = w.now_ms();
    w.step(&Action::Stall {
        process: 0,
        ms: 10_000,
    })
    .unwrap();
    assert!(!w.is_enabled(&Action::ToClient { process: 0 }));
    assert!(!w
        .enabled_actions()
        .contains(&Action::ToClient { process: 0 }));
    // The replies on the way no longer bound the clock (50 ms); the stall's end does.
    assert_eq!(w.advance_limit_ms(), Some(10_000));
    let s = session(&w, 0);
    advance(&mut w, 10_000);
    assert_eq!(w.now_ms(), start + 10_000);
    assert!(
        w.server().sessions().contains_key(&s),
        "the session lives on"
    );
    assert!(w.is_enabled(&Action::ToClient { process: 0 }));
    deliver_all(&mut w);
    // A second stall, then the budget is spent.
    let stall = Action::Stall {
        process: 0,
        ms: 500,
    };
    w.step(&stall).unwrap();
    advance(&mut w, 500);
    assert!(!w.is_enabled(&stall));
    // A crash ends a stall: the restarted process reads its links at once.
    let mut w = world(options.clone(), vec![Probe::new("p0")]);
    w.step(&Action::Stall {
        process: 0,
        ms: 10_000,
    })
    .unwrap();
    apply(&mut w, Action::Crash { process: 0 });
    apply(&mut w, Action::Restart { process: 0 });
    apply(&mut w, Action::ToServer { process: 0 });
    assert!(w.is_enabled(&Action::ToClient { process: 0 }));
    // Time abstract: never.
    let mut w = world(
        Options {
            time: TimeMode::Abstract,
            ..options
        },
        vec![Probe::new("p0")],
    );
    assert!(w.step(&stall).is_err());
}
