//! Runs transcript steps on the model: one [`Server`] and one [`Client`] per named session,
//! with instant links, producing for each step the same normalized [`Expect`] a recording
//! produces against a real server.
//!
//! **Time.** Only `wait` moves the transcript's clock; every other step takes no time. A
//! session is heard from at every step while it is connected (the recorder's barrier pings
//! it), so its silence starts where it loses its connection. The model's server expires a
//! silent session at one instant of its window (`zksim_model::server::expiry_deadline_ms`),
//! but the real server's tick boundaries fall wherever its own clock puts them, and the
//! recorder's steps take a little real time: so the harness leaves the moment to the
//! checker. A session last heard from at `h` with timeout `T` *may* be gone at any step after
//! `h + T` and *must* be gone by `h + T + tick`: at each step in that window the checker tries
//! both ([`Harness::fates`]), and a wait that reaches the end of the window expires it. A
//! request step may also see it expire just after its reply, before the step's barrier.
//! After a restart, `h` is only known to lie within the time the new server had been up
//! when it served (the recording's `server_up_ms`): its session tracker was built, and the
//! timeouts started over, at some moment of its start.

use std::collections::BTreeMap;

use zksim_model::client::{Call, Client, ClientState, Delivery};
use zksim_model::op::{OpResult, Reply, Response, WatchedEvent};
use zksim_model::server::{Outgoing, Server, ServerConfig, ToClient};
use zksim_model::stat::{SessionId, Stat};

use super::transcript::{Expect, StepAction};

/// The model side of a conformance run.
#[derive(Clone, Debug)]
pub struct Harness {
    server: Server,
    clients: BTreeMap<String, Client>,
    ids: BTreeMap<String, SessionId>,
    ordinals: BTreeMap<SessionId, i64>,
    /// When each live session was last heard from (see the module doc).
    heard: BTreeMap<SessionId, Heard>,
    now_ms: u64,
    tick_ms: u32,
}

/// When a session was last heard from: a moment between `earliest_ms` and `latest_ms` (one
/// instant, except after a restart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Heard {
    earliest_ms: u64,
    latest_ms: u64,
}

/// A step the script itself gets wrong (not a model mismatch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError(pub String);

/// How a `send_then_disconnect` request fares: reaches the server or is lost before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InFlight {
    /// The server applied it; only the reply was lost.
    #[default]
    Applied,
    /// It never reached the server.
    Lost,
}

/// What a step leaves to the real server, and so to the checker to try: one of
/// [`Harness::fates`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fate {
    /// How a `send_then_disconnect` request fares (`Applied` for other steps).
    pub in_flight: InFlight,
    /// Sessions whose expiry window is open that the server expires before the step (during
    /// it, for a wait), by name.
    pub expire: Vec<String>,
    /// `request` only: sessions whose expiry window is open that the server expires after
    /// answering the request, before the step's barrier ends, by name: their watch events
    /// follow the reply (ZooKeeper 3.8.0 was seen to do this on a probe of
    /// `session_expiry_moment`).
    pub expire_after: Vec<String>,
    /// `restart_server` only: sessions the new server expires as it starts (their timeouts
    /// started over more than the timeout before it served), by name.
    pub expire_in_restart: Vec<String>,
    /// `restart_server` only: how long before serving the new server may have started the
    /// sessions' timeouts over (the recording's `server_up_ms`).
    pub server_up_ms: u64,
}

/// How long a restart's servers ran unseen, from the recording (0 for a script).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Restarted {
    /// The old server ran this long after the step began (`server_stop_ms`).
    stop_ms: u64,
    /// The new one had been up this long when the step ended (`server_up_ms`).
    up_ms: u64,
}

/// At most this many sessions may be in their expiry window at one step: the checker tries
/// every way they may expire (each before the step, after a request's reply, or not).
pub const OPEN_WINDOWS_MAX: usize = 4;

/// Events collected per session during one step, with the acting session's reply position.
#[derive(Default)]
struct Collected {
    events: BTreeMap<String, Vec<WatchedEvent>>,
    reply: Option<Reply>,
    reply_zxid: Option<i64>,
    before_reply: Option<usize>,
}

/// What one step did: the observation, and the sessions the clock expired in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stepped {
    /// What the recording would show.
    pub expect: Expect,
    /// Sessions expired by the server's clock in this step (not by an `expire` step), in
    /// order, by name.
    pub expired: Vec<String>,
}

impl Harness {
    /// A fresh server whose tickTime is `tick_ms`, at time 0.
    pub fn new(tick_ms: u32) -> Self {
        let config = ServerConfig {
            tick_ms,
            ..ServerConfig::default()
        };
        Harness {
            server: Server::new(config),
            clients: BTreeMap::new(),
            ids: BTreeMap::new(),
            ordinals: BTreeMap::new(),
            heard: BTreeMap::new(),
            now_ms: 0,
            tick_ms,
        }
    }

    /// The server, for inspection.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Every way the real server may have taken `action` that the script does not decide,
    /// in a fixed order: a `send_then_disconnect` request applied or lost, and each subset
    /// of the silent sessions whose expiry window is open expired or not (see the module
    /// doc). `expect` is the recording's, if any (a restart's `server_up_ms`). One fate when
    /// nothing is open.
    pub fn fates(
        &self,
        action: &StepAction,
        expect: Option<&Expect>,
    ) -> Result<Vec<Fate>, ScriptError> {
        let in_flight: &[InFlight] = match action {
            StepAction::SendThenDisconnect { .. } => &[InFlight::Applied, InFlight::Lost],
            _ => &[InFlight::Applied],
        };
        let restarted = match (action, expect) {
            (StepAction::RestartServer {}, Some(e)) => Restarted {
                stop_ms: e.server_stop_ms.unwrap_or(0),
                up_ms: e.server_up_ms.unwrap_or(0),
            },
            _ => Restarted::default(),
        };
        let open = match action {
            StepAction::Wait { ms } => {
                self.open_windows(self.now_ms.saturating_add(u64::from(*ms)))
            }
            // The old server still ran while it stopped: a window that opened meanwhile was
            // open to it, and one that closed meanwhile may have found it already stopping.
            StepAction::RestartServer {} => {
                self.windows_opening_before(self.now_ms.saturating_add(restarted.stop_ms), |_| true)
            }
            _ => self.open_windows(self.now_ms),
        };
        check_open(&open)?;
        let server_up_ms = restarted.up_ms;
        let mut fates = Vec::new();
        for &fate in in_flight {
            for (expire, expire_after) in before_and_after(action, &open) {
                // A restart starts every remaining session's timeout over, up to
                // `server_up_ms` before the new server served: those shorter than that may
                // be gone already.
                let restored: Vec<String> = match action {
                    StepAction::RestartServer {} => self
                        .live()
                        .filter(|(name, id)| {
                            !expire.contains(name)
                                && u64::from(self.server.sessions()[id].timeout_ms) < server_up_ms
                        })
                        .map(|(name, _)| name)
                        .collect(),
                    _ => Vec::new(),
                };
                check_open(&restored)?;
                for expire_in_restart in subsets(&restored) {
                    fates.push(Fate {
                        in_flight: fate,
                        expire: expire.clone(),
                        expire_after: expire_after.clone(),
                        expire_in_restart,
                        server_up_ms,
                    });
                }
            }
        }
        Ok(fates)
    }

    /// The live sessions with no connection whose window is open at `until` and still open
    /// after it (a window that closes by then is the step's to close), in the order their
    /// windows open.
    fn open_windows(&self, until: u64) -> Vec<String> {
        self.windows_opening_before(until, |closes| closes > until)
    }

    /// The live sessions with no connection whose window opens before `until` and closes
    /// as `keep` says, in the order their windows open.
    fn windows_opening_before(&self, until: u64, keep: impl Fn(u64) -> bool) -> Vec<String> {
        let mut open: Vec<(u64, String)> = self
            .silent()
            .filter_map(|(name, id)| {
                let (opens, closes) = self.window(id)?;
                (opens < until && keep(closes)).then_some((opens, name))
            })
            .collect();
        open.sort();
        open.into_iter().map(|(_, name)| name).collect()
    }

    /// The sessions the server knows whose client has no connection, by name, with ids.
    fn silent(&self) -> impl Iterator<Item = (String, SessionId)> + '_ {
        self.live().filter(|(name, _)| {
            self.clients
                .get(name)
                .is_some_and(|c| c.state() != ClientState::Connected)
        })
    }

    /// The sessions the server knows, by name, with ids.
    fn live(&self) -> impl Iterator<Item = (String, SessionId)> + '_ {
        self.ids
            .iter()
            .filter(|(_, id)| self.server.is_live(**id))
            .map(|(name, id)| (name.clone(), *id))
    }

    /// A silent session's expiry window `(opens, closes]`: the server may expire it after
    /// its timeout has passed since it was last heard from, and does within the tick after.
    fn window(&self, id: SessionId) -> Option<(u64, u64)> {
        let heard = self.heard.get(&id)?;
        let timeout = u64::from(self.server.sessions().get(&id)?.timeout_ms);
        let opens = heard.earliest_ms + timeout;
        let closes = heard.latest_ms + timeout + u64::from(self.tick_ms.max(1));
        // The model's own moment is one of those the comparison allows.
        let deadline = self.server.sessions().get(&id)?.deadline_ms;
        debug_assert!(
            opens < deadline && deadline <= closes,
            "the model expires session {id:#x} at {deadline}, outside ({opens}, {closes}]"
        );
        Some((opens, closes))
    }

    /// Runs one step as `fate` has it (one of [`Harness::fates`]).
    pub fn step(&mut self, action: &StepAction, fate: &Fate) -> Result<Stepped, ScriptError> {
        let mut c = Collected::default();
        let mut expect = Expect::default();
        let mut expired = Vec::new();
        if !matches!(action, StepAction::Wait { .. }) {
            self.expire_now(&mut c, &fate.expire, &mut expired)?;
        }
        let in_flight = fate.in_flight;
        match action {
            StepAction::Connect {
                session,
                timeout_ms,
            } => {
                if self.ids.contains_key(session) {
                    return Err(ScriptError(format!(
                        "session {session:?} is connected twice"
                    )));
                }
                let (id, negotiated) = self.server.connect(self.now_ms, *timeout_ms);
                let (client, hello) = Client::connected(id, negotiated);
                self.ordinals.insert(id, self.ordinals.len() as i64 + 1);
                self.ids.insert(session.clone(), id);
                self.clients.insert(session.clone(), client);
                self.collect(&mut c, session, vec![hello]);
                expect.negotiated_timeout_ms = Some(negotiated);
            }
            StepAction::Request { session, request } => {
                if let Some((id, xid, req)) = self.send(&mut c, session, request)? {
                    let frames = self.server.handle(self.now_ms, id, xid, &req);
                    self.deliver(&mut c, frames, Some(session));
                    expect.zxid = c.reply_zxid;
                }
            }
            StepAction::SendThenDisconnect { session, request } => {
                if let Some((id, xid, req)) = self.send(&mut c, session, request)? {
                    if in_flight == InFlight::Applied {
                        let frames = self.server.handle(self.now_ms, id, xid, &req);
                        // The acting session's own frames die with its connection.
                        let others = frames.into_iter().filter(|f| f.session != id).collect();
                        self.deliver(&mut c, others, None);
                    }
                    self.drop_connection(&mut c, session, id)?;
                }
            }
            StepAction::Disconnect { session } => {
                let id = self.id(session)?;
                if self.client(session)?.state() != ClientState::Connected {
                    return Err(ScriptError(format!("session {session:?} is not connected")));
                }
                self.drop_connection(&mut c, session, id)?;
            }
            StepAction::Reconnect { session, resume } => {
                let id = self.id(session)?;
                let client = self.client(session)?;
                if client.state() != ClientState::Disconnected {
                    return Err(ScriptError(format!(
                        "session {session:?} is not disconnected"
                    )));
                }
                // The model's zxids are the transcript's (a fresh server: base 0).
                let (last_zxid, watches) = match resume {
                    Some(r) => (r.last_zxid, r.watches.clone()),
                    None => (client.last_zxid(), client.set_watches()),
                };
                let answer = self.server.reconnect(self.now_ms, id, last_zxid, &watches);
                expect.negotiated_timeout_ms = answer.as_ref().map(|(t, _)| *t);
                let (deliveries, _sent) = self.client(session)?.reconnected(answer);
                self.collect(&mut c, session, deliveries);
            }
            StepAction::Expire { session } => {
                let id = self.id(session)?;
                if self.client(session)?.state() != ClientState::Disconnected {
                    return Err(ScriptError(format!(
                        "session {session:?} is not disconnected: only a silent session expires"
                    )));
                }
                if !self.server.sessions().contains_key(&id) {
                    return Err(ScriptError(format!(
                        "session {session:?} had already expired"
                    )));
                }
                // Expiry is a closeSession the server submits: its reply goes nowhere.
                let frames = self.server.expire(id);
                expect.zxid = Some(self.server.last_zxid());
                c.reply = Some(Ok(Response::Empty));
                self.deliver(&mut c, frames, None);
            }
            StepAction::Close { session } => {
                let id = self.id(session)?;
                let client = self.client(session)?;
                if client.state() != ClientState::Connected {
                    return Err(ScriptError(format!("session {session:?} is not connected")));
                }
                let frames = self.server.close(id, 0);
                let (reply, rest): (Vec<Outgoing>, Vec<Outgoing>) = frames
                    .into_iter()
                    .partition(|f| f.session == id && matches!(f.message, ToClient::Reply { .. }));
                self.deliver(&mut c, rest, None);
                if let Some(ToClient::Reply { reply, .. }) =
                    reply.into_iter().next().map(|f| f.message)
                {
                    c.reply = Some(reply);
                }
                self.client(session)?.closed();
            }
            StepAction::RestartServer {} => {
                // Every connection closes with the old server; sessions and data survive, and
                // every timeout starts over as the new server starts.
                let frames = self.server.restart(self.now_ms);
                self.deliver(&mut c, frames, None);
                let since = self.now_ms.saturating_sub(fate.server_up_ms);
                for heard in self.heard.values_mut() {
                    *heard = Heard {
                        earliest_ms: since,
                        latest_ms: self.now_ms,
                    };
                }
                self.expire_now(&mut c, &fate.expire_in_restart, &mut expired)?;
                expect.zxid = Some(self.server.last_zxid());
            }
            StepAction::Wait { ms } => {
                self.wait(&mut c, u64::from(*ms), &fate.expire, &mut expired)?
            }
        }
        self.expire_now(&mut c, &fate.expire_after, &mut expired)?;
        // The barrier: every connected session is heard from at the end of every step.
        let now = self.now_ms;
        for client in self.clients.values() {
            if client.state() == ClientState::Connected {
                let id = client.session();
                self.server.touch(now, id);
                let heard = Heard {
                    earliest_ms: now,
                    latest_ms: now,
                };
                self.heard.insert(id, heard);
            }
        }
        // `before_reply` is written for requests whose session received events.
        let acting_got_events = action.session().is_some_and(|a| c.events.contains_key(a));
        if matches!(action, StepAction::Request { .. }) && acting_got_events {
            expect.before_reply = c.before_reply;
        }
        expect.reply = c.reply.map(|r| self.normalize_reply(r));
        expect.events = c.events;
        Ok(Stepped { expect, expired })
    }

    /// Expires the named sessions now, by the server's clock, in order.
    fn expire_now(
        &mut self,
        c: &mut Collected,
        names: &[String],
        expired: &mut Vec<String>,
    ) -> Result<(), ScriptError> {
        for name in names {
            let id = self.id(name)?;
            let frames = self.server.expire(id);
            self.deliver(c, frames, None);
            expired.push(name.clone());
        }
        Ok(())
    }

    /// The client numbers and sends a request: `Some((session id, xid, request))` to hand to
    /// the server, `None` when it failed locally (collected as the step's reply).
    fn send(
        &mut self,
        c: &mut Collected,
        session: &str,
        request: &zksim_model::Request,
    ) -> Result<Option<(SessionId, i32, zksim_model::Request)>, ScriptError> {
        let id = self.id(session)?;
        match self.client(session)?.call(request.clone()) {
            Call::Send(xid, req) => Ok(Some((id, xid, req))),
            Call::Failed(local) => {
                self.collect(c, session, vec![local]);
                Ok(None)
            }
            Call::Queued(_) => Err(ScriptError(format!(
                "session {session:?} is disconnected: reconnect it before a request"
            ))),
        }
    }

    fn id(&self, session: &str) -> Result<SessionId, ScriptError> {
        self.ids
            .get(session)
            .copied()
            .ok_or_else(|| ScriptError(format!("session {session:?} is used before it connects")))
    }

    fn client(&mut self, session: &str) -> Result<&mut Client, ScriptError> {
        self.clients
            .get_mut(session)
            .ok_or_else(|| ScriptError(format!("session {session:?} is used before it connects")))
    }

    fn name_of(&self, id: SessionId) -> Option<String> {
        self.ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
    }

    fn drop_connection(
        &mut self,
        c: &mut Collected,
        session: &str,
        id: SessionId,
    ) -> Result<(), ScriptError> {
        self.server.disconnect(id);
        let deliveries = self.client(session)?.disconnected();
        self.collect(c, session, deliveries);
        Ok(())
    }

    /// Hands frames to their clients in order and collects what the clients deliver.
    fn deliver(&mut self, c: &mut Collected, frames: Vec<Outgoing>, acting: Option<&str>) {
        for frame in frames {
            let Some(name) = self.name_of(frame.session) else {
                continue;
            };
            if let ToClient::Reply { zxid, .. } = &frame.message {
                if acting == Some(name.as_str()) {
                    c.reply_zxid = Some(*zxid);
                }
            }
            if matches!(frame.message, ToClient::Drop) {
                self.server.disconnect(frame.session);
            }
            let deliveries = match self.clients.get_mut(&name) {
                Some(client) if client.state() == ClientState::Connected => {
                    client.receive(&frame.message)
                }
                _ => continue,
            };
            self.collect(c, &name, deliveries);
        }
    }

    fn collect(&mut self, c: &mut Collected, session: &str, deliveries: Vec<Delivery>) {
        for d in deliveries {
            match d {
                Delivery::Event { event } => {
                    c.events.entry(session.to_string()).or_default().push(event)
                }
                Delivery::Reply { reply, .. } => {
                    c.before_reply = Some(c.events.get(session).map_or(0, Vec::len));
                    c.reply = Some(reply);
                }
            }
        }
    }

    /// Lets `ms` pass. Connected sessions keep pinging, so only silent ones expire: those
    /// whose window closes within the wait, at its close, and those `chosen` (their window
    /// open within the wait) as it opens, all in the order of those moments.
    fn wait(
        &mut self,
        c: &mut Collected,
        ms: u64,
        chosen: &[String],
        expired: &mut Vec<String>,
    ) -> Result<(), ScriptError> {
        let end = self.now_ms.saturating_add(ms);
        let mut due: Vec<(u64, String)> = self
            .silent()
            .filter_map(|(name, id)| {
                let (opens, closes) = self.window(id)?;
                if closes <= end {
                    Some((closes, name))
                } else if chosen.contains(&name) {
                    Some((opens.max(self.now_ms), name))
                } else {
                    None
                }
            })
            .collect();
        due.sort();
        for (at, name) in due {
            self.now_ms = at.max(self.now_ms);
            self.expire_now(c, std::slice::from_ref(&name), expired)?;
        }
        self.now_ms = end;
        Ok(())
    }

    fn normalize_reply(&self, reply: Reply) -> Reply {
        normalize_reply(reply, &self.ordinals)
    }
}

/// The transcript normalization of a model reply: times as the zxid that set them, owners as
/// the ordinals `ordinals` gives their sessions (-1 for a session it lacks).
pub fn normalize_reply(reply: Reply, ordinals: &BTreeMap<SessionId, i64>) -> Reply {
    reply.map(|r| normalize_response(r, ordinals))
}

fn normalize_response(r: Response, ordinals: &BTreeMap<SessionId, i64>) -> Response {
    let n = |s: Stat| normalize_stat(s, ordinals);
    match r {
        Response::Create { path, stat } => Response::Create {
            path,
            stat: stat.map(n),
        },
        Response::Stat { stat } => Response::Stat { stat: n(stat) },
        Response::Data { data, stat } => Response::Data {
            data,
            stat: n(stat),
        },
        Response::Acl { acl, stat } => Response::Acl { acl, stat: n(stat) },
        Response::Children { children, stat } => Response::Children {
            children,
            stat: stat.map(n),
        },
        Response::Multi { results } => Response::Multi {
            results: results
                .into_iter()
                .map(|r| match r {
                    OpResult::Create { path, stat } => OpResult::Create {
                        path,
                        stat: stat.map(n),
                    },
                    OpResult::SetData { stat } => OpResult::SetData { stat: n(stat) },
                    other => other,
                })
                .collect(),
        },
        other => other,
    }
}

fn normalize_stat(s: Stat, ordinals: &BTreeMap<SessionId, i64>) -> Stat {
    Stat {
        ctime: s.czxid,
        mtime: s.mzxid,
        ephemeral_owner: if s.ephemeral_owner == 0 {
            0
        } else {
            ordinals.get(&s.ephemeral_owner).copied().unwrap_or(-1)
        },
        ..s
    }
}

/// Refuses a step at which more sessions may expire than the checker tries the subsets of.
fn check_open(open: &[String]) -> Result<(), ScriptError> {
    if open.len() > OPEN_WINDOWS_MAX {
        return Err(ScriptError(format!(
            "{} silent sessions ({}) may expire here, more than the {OPEN_WINDOWS_MAX} the \
             checker tries every outcome of: let their timeouts end further apart",
            open.len(),
            open.join(", ")
        )));
    }
    Ok(())
}

/// Every subset of `names`, the empty one first, each in the order of `names`.
/// The ways the sessions of `open` may expire around `action`: each subset expires before it,
/// and, for a request, each subset of the rest after its reply (within the step).
fn before_and_after(action: &StepAction, open: &[String]) -> Vec<(Vec<String>, Vec<String>)> {
    let mut ways = Vec::new();
    for before in subsets(open) {
        if !matches!(action, StepAction::Request { .. }) {
            ways.push((before, Vec::new()));
            continue;
        }
        let rest: Vec<String> = open
            .iter()
            .filter(|n| !before.contains(n))
            .cloned()
            .collect();
        for after in subsets(&rest) {
            ways.push((before.clone(), after));
        }
    }
    ways
}

fn subsets(names: &[String]) -> Vec<Vec<String>> {
    (0..1u32 << names.len())
        .map(|mask| {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| n.clone())
                .collect()
        })
        .collect()
}
