//! Runs transcript steps on the model: one [`Server`] and one [`Client`] per named session,
//! with instant links, producing for each step the same normalized [`Expect`] a recording
//! produces against a real server.

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
    now_ms: u64,
    tick_ms: u32,
}

/// A step the script itself gets wrong (not a model mismatch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError(pub String);

/// How a `send_then_disconnect` request fares: reaches the server or is lost before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlight {
    /// The server applied it; only the reply was lost.
    Applied,
    /// It never reached the server.
    Lost,
}

/// Events collected per session during one step, with the acting session's reply position.
#[derive(Default)]
struct Collected {
    events: BTreeMap<String, Vec<WatchedEvent>>,
    reply: Option<Reply>,
    reply_zxid: Option<i64>,
    before_reply: Option<usize>,
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
            now_ms: 0,
            tick_ms,
        }
    }

    /// The server, for inspection.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Runs one step. `in_flight` decides a `send_then_disconnect` and is ignored otherwise.
    pub fn step(
        &mut self,
        action: &StepAction,
        in_flight: InFlight,
    ) -> Result<Expect, ScriptError> {
        let mut c = Collected::default();
        let mut expect = Expect::default();
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
                // Every connection closes with the old server; sessions and data survive.
                let frames = self.server.restart(self.now_ms);
                self.deliver(&mut c, frames, None);
                expect.zxid = Some(self.server.last_zxid());
            }
            StepAction::Wait { ms } => self.wait(&mut c, u64::from(*ms)),
        }
        // `before_reply` is written for requests whose session received events.
        let acting_got_events = action.session().is_some_and(|a| c.events.contains_key(a));
        if matches!(action, StepAction::Request { .. }) && acting_got_events {
            expect.before_reply = c.before_reply;
        }
        expect.reply = c.reply.map(|r| self.normalize_reply(r));
        expect.events = c.events;
        Ok(expect)
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

    /// Lets `ms` pass in quarter ticks: connected clients ping each quarter tick (so a
    /// connected session never expires), and the server expires sessions as deadlines pass.
    /// Quarter ticks in which nothing can expire are skipped (the last ping of a run of them
    /// sets the same deadline as all of them), so a long wait costs one pass an expiry.
    fn wait(&mut self, c: &mut Collected, ms: u64) {
        let end = self.now_ms + ms;
        let quantum = u64::from(self.tick_ms / 4).max(1);
        while self.now_ms < end {
            let connected: Vec<SessionId> = self
                .clients
                .values()
                .filter(|cl| cl.state() == ClientState::Connected)
                .map(Client::session)
                .collect();
            // The earliest deadline of a session no ping renews: the first quarter tick at
            // or after it is the next one at which anything can happen.
            let silent = self
                .server
                .sessions()
                .iter()
                .filter(|(id, _)| !connected.contains(id))
                .map(|(_, info)| info.deadline_ms)
                .min();
            let quanta = match silent {
                None => u64::MAX,
                Some(d) if d > self.now_ms => (d - self.now_ms).div_ceil(quantum),
                Some(_) => 1,
            };
            self.now_ms = self
                .now_ms
                .saturating_add(quanta.max(1).saturating_mul(quantum))
                .min(end);
            for id in connected {
                self.server.touch(self.now_ms, id);
            }
            let frames = self.server.expire_due(self.now_ms);
            self.deliver(c, frames, None);
        }
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
