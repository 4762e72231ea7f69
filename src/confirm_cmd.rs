//! `zksim confirm`: a trace's server side run on a real ZooKeeper, step for step, and every
//! answer the model gave compared with the real server's.
//!
//! The trace alone drives it (no roles: a user's own recipe's traces work as the built-in
//! ones do). It becomes a conformance script ([`translate`]) that the recorder runs on a
//! fresh server:
//! - each session the trace opens is a `connect`, in the order the trace creates them (so
//!   `ephemeralOwner` ordinals agree); a session no process holds (the set-up that queues
//!   tasks) replays its creates and its close;
//! - each `handled` request is a `request` on its session, in the order of the `handled`
//!   events: the order the model's server took them in. A request lost on the way (a
//!   disconnect) is never sent, as it never reached the model's server;
//! - a disconnect or a crash drops the connection (the session lives on); a reconnect
//!   reconnects with the session id and password, and with the last zxid and the watches the
//!   trace's client had: the replies and events it was delivered, not those lost on the way
//!   back ([`Resume`]);
//! - an expiry (abstract `expire`, or a timed session's deadline) closes the silent session at
//!   that point from a connection of its own: ZooKeeper expires a session by submitting the
//!   same closeSession. Sessions ask for the longest timeout (20 ticks of 2 s), so none
//!   expires by itself while the script runs; the trace's negotiated timeouts are therefore
//!   not compared.
//!
//! Then it checks, normalized as transcripts are (zxids from a fresh server, times as
//! the zxid that set them, owners as session ordinals): every reply (code, paths, Stats, data,
//! child lists in order, multi results) and its reply-header zxid (so which requests used up a
//! zxid, the committed changes); every reconnect's verdict (same session or expired); and, per
//! connection, the frames the trace's client was delivered (replies and watch events, in
//! order) against the frames the real server sent on that connection: the trace's must be the
//! real ones' beginning (frames still on the way when the connection dropped or the trace
//! ended are the rest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zksim_model::client::ClientWatches;
use zksim_model::op::{EventType, Reply, Request, Response, WatchedEvent};
use zksim_model::server::Change;
use zksim_model::stat::SessionId;
use zksim_sim::event::Event;
use zksim_sim::plural::count;
use zksim_sim::trace::{self, Trace};

use crate::conformance::harness::normalize_reply;
use crate::conformance::transcript::{Expect, Resume, Step, StepAction, Transcript, SCHEMA};
use crate::exit::CliError;
use crate::recorder::{record_transcript, RecordOptions};
use crate::sim_cmd::{Knobs, SeedRange};

/// Arguments of `zksim confirm`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConfirmArgs {
    /// Traces to confirm (`zksim simulate --trace`, `zksim check --trace`, a scenario's or a
    /// shrunk trace, a user's own recipe's).
    pub traces: Vec<PathBuf>,
    /// Simulate this recipe's seeds (`--seeds`) and confirm each trace instead.
    #[arg(long, requires = "seeds")]
    pub recipe: Option<String>,
    /// The seeds to simulate, `A..B` (with `--recipe`).
    #[arg(long, requires = "recipe")]
    pub seeds: Option<SeedRange>,
    /// Draw each seed's knobs from it (swarm), as `zksim simulate --swarm`.
    #[arg(long, requires = "recipe")]
    pub swarm: bool,
    /// Print a machine-readable summary.
    #[arg(long)]
    pub json: bool,
    /// Write the script run on the real server, with its answers (a conformance
    /// transcript), to this file (one trace only).
    #[arg(long)]
    pub transcript: Option<PathBuf>,
    /// The knobs of the simulated seeds.
    #[command(flatten)]
    pub knobs: Knobs,
}

/// The real server's tickTime for a confirmation, in ms: sessions then get up to 40 s.
const TICK_MS: u32 = 2000;
/// The session timeout every session asks for: the most a server grants (20 ticks).
const TIMEOUT_MS: u32 = 20 * TICK_MS;

/// Where in the trace a compared answer comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The trace's step.
    pub step: u64,
    /// The process, by name (or the set-up session).
    pub process: String,
    /// What was done, in a few words.
    pub what: String,
}

/// The first difference between the trace and the real server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// Where.
    pub at: Place,
    /// Which field (`reply`, `zxid`, `reconnect`, `frames`).
    pub field: String,
    /// What the real server did.
    pub real: String,
    /// What the model did (the trace).
    pub model: String,
}

/// One trace's confirmation.
#[derive(Clone, Debug, Serialize)]
pub struct Confirmation {
    /// The trace's file, or `recipe seed N`.
    pub trace: String,
    /// `confirmed` or `diverged`.
    pub verdict: &'static str,
    /// Script steps run on the real server.
    pub steps: usize,
    /// Replies compared.
    pub replies: usize,
    /// Frames delivered to the trace's clients compared with the real server's.
    pub frames: usize,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
    /// What could not be compared as the model did it, and how it was compared instead.
    pub notes: Vec<String>,
    /// The properties the trace violates: with every answer confirmed, the real server
    /// breaks them too (the roles saw exactly the real server's answers).
    pub violations: Vec<String>,
}

/// What the trace says about one script step.
#[derive(Clone, Debug)]
enum Want {
    /// Nothing to compare (a connect, a disconnect, a set-up create's success aside).
    Nothing,
    /// The set-up session's create or close: it must succeed.
    Succeeds(Place),
    /// A handled request: the model's reply (normalized) and reply-header zxid.
    Reply { at: Place, reply: Reply, zxid: i64 },
    /// A reconnect: whether the model found the session expired.
    Reconnect { at: Place, expired: bool },
    /// An expiry: the closeSession's zxid.
    Expired { at: Place, zxid: i64 },
    /// A server restart: the last zxid the restarted server has.
    Restarted { at: Place, zxid: i64 },
}

/// A frame on one connection, as the client received it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Frame {
    /// The reply to the request of this script step.
    Reply(usize),
    /// A watch event.
    Event(WatchedEvent),
}

/// A trace turned into a script, with what to compare.
#[derive(Debug)]
pub struct Translation {
    /// The script the recorder runs.
    pub script: Transcript,
    wants: Vec<Want>,
    /// By connection: the frames the trace's client was delivered, in order, each with where
    /// the trace delivered it.
    delivered: Vec<Vec<(Frame, Place)>>,
    /// By script step: the connection a `connect` or `reconnect` opens, for its session.
    opens: BTreeMap<usize, usize>,
    /// Where each connection came from, for messages.
    connection_places: Vec<Place>,
}

/// A process of the trace, as the translation follows it.
#[derive(Debug, Default)]
struct Proc {
    name: String,
    /// Its current session's script name.
    session: Option<String>,
    sessions_opened: u32,
    /// Requests sent on the current session, by xid.
    sent: BTreeMap<i32, Request>,
    /// Requests the server handled on the current connection: xid -> (script step, zxid).
    handled: BTreeMap<i32, (usize, i64)>,
    /// The client's view: what it was delivered.
    watches: ClientWatches,
    last_zxid: i64,
    /// The current connection (index into `delivered`), while connected.
    connection: Option<usize>,
    /// The server closed the current connection (a restart): the client still reads what
    /// was on it, and its drop is no step of the script.
    closing: bool,
}

struct Translator {
    steps: Vec<Step>,
    wants: Vec<Want>,
    delivered: Vec<Vec<(Frame, Place)>>,
    opens: BTreeMap<usize, usize>,
    connection_places: Vec<Place>,
    procs: Vec<Proc>,
    /// Model session id -> (script name, ordinal from 1, owning process).
    sessions: BTreeMap<SessionId, (String, i64, Option<usize>)>,
    /// Which process opens which session (from the whole trace).
    opened_by: BTreeMap<SessionId, usize>,
    setups: u32,
}

/// Turns a trace into a script for the recorder and what to compare its answers with.
pub fn translate(trace: &Trace) -> Result<Translation, String> {
    let mut opened_by = BTreeMap::new();
    for line in &trace.steps {
        for e in &line.events {
            if let Event::SessionOpened {
                process, session, ..
            } = e
            {
                opened_by.insert(*session, *process);
            }
        }
    }
    let mut t = Translator {
        steps: Vec::new(),
        wants: Vec::new(),
        delivered: Vec::new(),
        opens: BTreeMap::new(),
        connection_places: Vec::new(),
        procs: trace
            .header
            .processes
            .iter()
            .map(|n| Proc {
                name: n.clone(),
                ..Proc::default()
            })
            .collect(),
        sessions: BTreeMap::new(),
        opened_by,
        setups: 0,
    };
    for line in &trace.steps {
        for e in &line.events {
            t.event(line.step, e)?;
        }
    }
    Ok(Translation {
        script: Transcript {
            schema: SCHEMA,
            name: "confirm".into(),
            about: format!(
                "the server side of a zksim trace of {} (seed {})",
                trace.header.recipe, trace.header.seed
            ),
            covers: Vec::new(),
            tick_ms: TICK_MS,
            recorded: None,
            steps: t.steps,
        },
        wants: t.wants,
        delivered: t.delivered,
        opens: t.opens,
        connection_places: t.connection_places,
    })
}

impl Translator {
    fn push(&mut self, action: StepAction, want: Want) -> usize {
        self.steps.push(Step {
            action,
            expect: None,
        });
        self.wants.push(want);
        self.steps.len() - 1
    }

    fn place(&self, step: u64, process: Option<usize>, what: impl Into<String>) -> Place {
        Place {
            step,
            process: process.map_or_else(|| "set-up".to_string(), |p| self.procs[p].name.clone()),
            what: what.into(),
        }
    }

    fn process(&self, p: usize) -> Result<&Proc, String> {
        self.procs.get(p).ok_or_else(|| {
            format!(
                "process {p} is not in the header's {} processes",
                self.procs.len()
            )
        })
    }

    /// Opens a connection for process `p` (or a set-up session) at script step `at`.
    fn open(&mut self, at: usize, p: Option<usize>, place: Place) {
        let c = self.delivered.len();
        self.delivered.push(Vec::new());
        self.connection_places.push(place);
        self.opens.insert(at, c);
        if let Some(p) = p {
            self.procs[p].connection = Some(c);
            self.procs[p].closing = false;
            self.procs[p].handled.clear();
        }
    }

    fn session_of(&self, s: SessionId, step: u64) -> Result<(String, Option<usize>), String> {
        self.sessions
            .get(&s)
            .map(|(n, _, p)| (n.clone(), *p))
            .ok_or_else(|| format!("step {step}: session 0x{s:x} was never created"))
    }

    fn event(&mut self, step: u64, e: &Event) -> Result<(), String> {
        match e {
            Event::Changed { change } => self.change(step, change)?,
            Event::SessionOpened { process, .. } => {
                self.process(*process)?;
            }
            Event::Sent {
                process,
                xid,
                request,
            } => {
                self.process(*process)?;
                self.procs[*process].sent.insert(*xid, request.clone());
            }
            Event::Handled {
                process,
                xid,
                zxid,
                reply,
            } => {
                let p = *process;
                let proc = self.process(p)?;
                let request = proc.sent.get(xid).cloned().ok_or_else(|| {
                    format!("step {step}: {} had no request {xid} sent", proc.name)
                })?;
                let session = proc
                    .session
                    .clone()
                    .ok_or_else(|| format!("step {step}: {} has no session", proc.name))?;
                let ordinals = self.ordinals();
                let at = self.place(step, Some(p), describe(&request));
                let index = self.push(
                    StepAction::Request { session, request },
                    Want::Reply {
                        at,
                        reply: normalize_reply(reply.clone(), &ordinals),
                        zxid: *zxid,
                    },
                );
                self.procs[p].handled.insert(*xid, (index, *zxid));
            }
            Event::Replied {
                process,
                xid,
                reply,
            } => {
                let p = *process;
                self.process(p)?;
                let place = self.place(step, Some(p), format!("reply {xid} delivered"));
                let proc = &mut self.procs[p];
                // Only a reply the server sent on this connection: a ConnectionLoss or a
                // SessionExpired the client made itself is no frame.
                if let Some((index, zxid)) = proc.handled.remove(xid) {
                    let code = match reply {
                        Ok(_) => zksim_model::ErrorCode::Ok,
                        Err(code) => *code,
                    };
                    if let Some(request) = proc.sent.get(xid) {
                        proc.watches.on_reply(request, code);
                    }
                    if zxid > 0 {
                        proc.last_zxid = proc.last_zxid.max(zxid);
                    }
                    if let Some(c) = proc.connection {
                        self.delivered[c].push((Frame::Reply(index), place));
                    }
                }
                proc.sent.remove(xid);
            }
            Event::Notified { process, event } => {
                let p = *process;
                self.process(p)?;
                if event.kind != EventType::None {
                    let place = self.place(step, Some(p), "event delivered");
                    let proc = &mut self.procs[p];
                    proc.watches.on_event(event);
                    if let Some(c) = proc.connection {
                        self.delivered[c].push((Frame::Event(event.clone()), place));
                    }
                }
            }
            Event::ServerRestarted { zxid } => {
                let at = Place {
                    step,
                    process: "the server".into(),
                    what: "restart".into(),
                };
                self.push(
                    StepAction::RestartServer {},
                    Want::Restarted { at, zxid: *zxid },
                );
                for proc in &mut self.procs {
                    proc.closing = proc.connection.is_some();
                }
            }
            Event::Crashed { process } | Event::Disconnected { process } => {
                let p = *process;
                self.process(p)?;
                let closing = std::mem::take(&mut self.procs[p].closing);
                if self.procs[p].connection.take().is_some() && !closing {
                    let session = self.procs[p].session.clone().expect("a connected session");
                    self.push(StepAction::Disconnect { session }, Want::Nothing);
                }
                if matches!(e, Event::Crashed { .. }) {
                    // The role starts over: what its client had seen goes with it.
                    let proc = &mut self.procs[p];
                    proc.sent.clear();
                    proc.handled.clear();
                    proc.watches = ClientWatches::default();
                    proc.last_zxid = 0;
                }
            }
            Event::Reconnected { process, expired } => {
                let p = *process;
                let proc = self.process(p)?;
                let session = proc.session.clone().ok_or_else(|| {
                    format!("step {step}: {} reconnects without a session", proc.name)
                })?;
                let resume = Resume {
                    last_zxid: proc.last_zxid,
                    watches: proc.watches.set_watches(),
                };
                let at = self.place(step, Some(p), "reconnect");
                let index = self.push(
                    StepAction::Reconnect {
                        session,
                        resume: Some(resume),
                    },
                    Want::Reconnect {
                        at: at.clone(),
                        expired: *expired,
                    },
                );
                if *expired {
                    let proc = &mut self.procs[p];
                    proc.watches = ClientWatches::default();
                } else {
                    self.open(index, Some(p), at);
                }
            }
            Event::Lost {
                process,
                xid,
                to_server: false,
            } => {
                // A reply lost on the way back: the client never saw it (its ConnectionLoss
                // is the client's own).
                self.process(*process)?;
                self.procs[*process].handled.remove(xid);
            }
            Event::Lost { .. }
            | Event::TimerFired { .. }
            | Event::Chose { .. }
            | Event::Noted { .. }
            | Event::Log { .. } => {}
        }
        Ok(())
    }

    fn ordinals(&self) -> BTreeMap<SessionId, i64> {
        self.sessions
            .iter()
            .map(|(s, (_, o, _))| (*s, *o))
            .collect()
    }

    fn change(&mut self, step: u64, change: &Change) -> Result<(), String> {
        match change {
            Change::SessionCreated { session, .. } => {
                let owner = self.opened_by.get(session).copied();
                let name = match owner {
                    Some(p) => {
                        self.process(p)?;
                        let proc = &mut self.procs[p];
                        proc.sessions_opened += 1;
                        if proc.sessions_opened == 1 {
                            proc.name.clone()
                        } else {
                            format!("{}#{}", proc.name, proc.sessions_opened)
                        }
                    }
                    None => {
                        self.setups += 1;
                        format!("set-up#{}", self.setups)
                    }
                };
                let ordinal = self.sessions.len() as i64 + 1;
                self.sessions
                    .insert(*session, (name.clone(), ordinal, owner));
                let at = self.place(step, owner, "connect");
                let index = self.push(
                    StepAction::Connect {
                        session: name.clone(),
                        timeout_ms: TIMEOUT_MS,
                    },
                    Want::Nothing,
                );
                if let Some(p) = owner {
                    let proc = &mut self.procs[p];
                    proc.session = Some(name);
                    proc.sent.clear();
                    proc.watches = ClientWatches::default();
                    proc.last_zxid = 0;
                }
                self.open(index, owner, at);
            }
            Change::SessionClosed {
                session,
                expired,
                zxid,
            } => {
                let (name, owner) = self.session_of(*session, step)?;
                if *expired {
                    let held = |p: usize| {
                        self.procs[p].session.as_ref() == Some(&name)
                            && self.procs[p].connection.is_some()
                            && !self.procs[p].closing
                    };
                    if owner.is_some_and(held) {
                        return Err(format!(
                            "step {step}: session {name} expired while its client was \
                             connected: a real server cannot be steered into that"
                        ));
                    }
                    let at = self.place(step, owner, "expiry");
                    self.push(
                        StepAction::Expire { session: name },
                        Want::Expired { at, zxid: *zxid },
                    );
                } else if owner.is_none() {
                    let at = self.place(step, None, "close");
                    self.push(StepAction::Close { session: name }, Want::Succeeds(at));
                } else {
                    return Err(format!(
                        "step {step}: session {name} was closed by something other than a \
                         request of its own: not supported"
                    ));
                }
            }
            Change::Created {
                by: Some(by),
                path,
                data,
                owner,
                ..
            } => {
                let (name, by_process) = self.session_of(*by, step)?;
                // A process's creates are its handled requests; only the set-up session's
                // writes appear as changes alone.
                if by_process.is_none() {
                    let mode = if owner.is_some() {
                        zksim_model::op::CreateMode::Ephemeral
                    } else {
                        zksim_model::op::CreateMode::Persistent
                    };
                    let request = Request::create(path.clone(), data.clone(), mode);
                    let at = self.place(step, None, describe(&request));
                    self.push(
                        StepAction::Request {
                            session: name,
                            request,
                        },
                        Want::Succeeds(at),
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A request in a few words (`create /master`).
fn describe(r: &Request) -> String {
    let op = serde_json::to_value(r)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_else(|| "request".into());
    match r.path() {
        Some(p) => format!("{op} {p}"),
        None => op,
    }
}

fn show<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("(unprintable: {e})"))
}

/// What was compared, and the first divergence.
#[derive(Debug, Default)]
struct Compared {
    replies: usize,
    frames: usize,
    divergences: Vec<(usize, Divergence)>,
}

/// A reply with its child list sorted (for a model that was told to list children in an
/// order of its own: the real server lists them in its hash order).
fn children_sorted(reply: &Reply) -> Reply {
    match reply {
        Ok(Response::Children { children, stat }) => {
            let mut children = children.clone();
            children.sort();
            Ok(Response::Children {
                children,
                stat: *stat,
            })
        }
        other => other.clone(),
    }
}

/// Compares a recorded script with what the trace said; `as_sets` compares child lists
/// without their order.
fn compare(tr: &Translation, recorded: &Transcript, as_sets: bool) -> Compared {
    let mut out = Compared::default();
    let mut diverge = |index: usize, at: &Place, field: &str, real: String, model: String| {
        out.divergences.push((
            index,
            Divergence {
                at: at.clone(),
                field: field.into(),
                real,
                model,
            },
        ))
    };
    let none = Expect::default();
    let expect = |i: usize| recorded.steps[i].expect.as_ref().unwrap_or(&none);
    for (i, want) in tr.wants.iter().enumerate() {
        let e = expect(i);
        match want {
            Want::Nothing => {}
            Want::Succeeds(at) => {
                if let Some(Err(_)) = &e.reply {
                    diverge(i, at, "reply", show(&e.reply), "success".into());
                }
            }
            Want::Reply { at, reply, zxid } => {
                let same = match &e.reply {
                    Some(real) if as_sets => children_sorted(real) == children_sorted(reply),
                    real => real.as_ref() == Some(reply),
                };
                if !same {
                    diverge(i, at, "reply", show(&e.reply), show(reply));
                } else if e.zxid != Some(*zxid) {
                    diverge(i, at, "zxid", show(&e.zxid), zxid.to_string());
                }
            }
            Want::Reconnect { at, expired } => {
                let real_expired = e.negotiated_timeout_ms.is_none();
                if real_expired != *expired {
                    let says = |x: bool| if x { "expired" } else { "same session" }.to_string();
                    diverge(i, at, "reconnect", says(real_expired), says(*expired));
                }
            }
            Want::Expired { at, zxid } | Want::Restarted { at, zxid } => {
                if e.zxid != Some(*zxid) {
                    diverge(i, at, "zxid", show(&e.zxid), zxid.to_string());
                }
            }
        }
    }
    // The frames each connection received on the real server, in order.
    let mut real: Vec<Vec<(usize, Frame)>> = vec![Vec::new(); tr.delivered.len()];
    let mut current: BTreeMap<String, usize> = BTreeMap::new();
    for (i, step) in recorded.steps.iter().enumerate() {
        let acting = step.action.session().map(str::to_string);
        if let (Some(c), Some(s)) = (tr.opens.get(&i), &acting) {
            current.insert(s.clone(), *c);
        }
        let e = step.expect.as_ref().unwrap_or(&none);
        for (session, events) in &e.events {
            let Some(&c) = current.get(session) else {
                continue;
            };
            let is_acting_request = matches!(step.action, StepAction::Request { .. })
                && acting.as_deref() == Some(session.as_str());
            let before = if is_acting_request {
                e.before_reply.unwrap_or(0)
            } else {
                usize::MAX
            };
            for (k, ev) in events.iter().enumerate() {
                if k == before {
                    real[c].push((i, Frame::Reply(i)));
                }
                if ev.kind != EventType::None {
                    real[c].push((i, Frame::Event(ev.clone())));
                }
            }
            if is_acting_request && before >= events.len() {
                real[c].push((i, Frame::Reply(i)));
            }
        }
        if matches!(step.action, StepAction::Request { .. })
            && e.reply.is_some()
            && !acting.as_ref().is_some_and(|s| e.events.contains_key(s))
        {
            if let Some(&c) = acting.as_ref().and_then(|s| current.get(s)) {
                real[c].push((i, Frame::Reply(i)));
            }
        }
    }
    for (c, model) in tr.delivered.iter().enumerate() {
        let got = &real[c];
        for (k, (frame, at)) in model.iter().enumerate() {
            out.frames += 1;
            let real_frame = got.get(k);
            if real_frame.map(|(_, f)| f) != Some(frame) {
                let show_frame = |f: &Frame| match f {
                    Frame::Reply(i) => match &recorded.steps[*i].action {
                        StepAction::Request { request, .. } => {
                            format!("the reply to {}", describe(request))
                        }
                        _ => format!("the reply to script step {i}"),
                    },
                    Frame::Event(ev) => format!("event {}", show(ev)),
                };
                let opened = &tr.connection_places[c];
                let index = real_frame.map_or(usize::MAX, |(i, _)| *i);
                diverge(
                    index,
                    at,
                    &format!(
                        "frame {} on {}'s connection opened at trace step {}",
                        k + 1,
                        opened.process,
                        opened.step
                    ),
                    real_frame.map_or("no such frame".into(), |(_, f)| show_frame(f)),
                    show_frame(frame),
                );
                break;
            }
        }
    }
    out.replies = tr
        .wants
        .iter()
        .filter(|w| matches!(w, Want::Reply { .. }))
        .count();
    out.divergences.sort_by_key(|(i, _)| *i);
    out
}

/// Confirms one parsed trace on a fresh real server; the recorded transcript goes to
/// `transcript` if given.
pub fn confirm_trace(
    name: &str,
    trace: &Trace,
    opts: &RecordOptions,
    transcript: Option<&Path>,
) -> Result<Confirmation, String> {
    let tr = translate(trace).map_err(|e| format!("{name}: {e}"))?;
    let recorded = record_transcript(&tr.script, opts)
        .map_err(|e| format!("{name}: on the real server: {e}"))?;
    if let Some(path) = transcript {
        let text = serde_json::to_string_pretty(&recorded).map_err(|e| e.to_string())?;
        crate::files::write(path, text + "\n").map_err(|e| e.to_string())?;
    }
    let as_sets = trace.header.options.child_order != zksim_model::children::ChildOrder::Java;
    let compared = compare(&tr, &recorded, as_sets);
    let divergence = compared.divergences.into_iter().next().map(|(_, d)| d);
    Ok(Confirmation {
        trace: name.into(),
        verdict: if divergence.is_none() {
            "confirmed"
        } else {
            "diverged"
        },
        steps: tr.script.steps.len(),
        replies: compared.replies,
        frames: compared.frames,
        divergence,
        notes: if as_sets {
            vec![format!(
                "the trace lists children in {} order, which a real server cannot be \
                 steered into: child lists were compared as sets",
                format!("{:?}", trace.header.options.child_order).to_lowercase()
            )]
        } else {
            Vec::new()
        },
        violations: trace
            .end
            .as_ref()
            .map(|e| e.violations.iter().map(|v| v.property.clone()).collect())
            .unwrap_or_default(),
    })
}

fn read_trace(path: &Path) -> Result<Trace, CliError> {
    let text = crate::files::read_text(path)?;
    trace::parse(&text).map_err(|e| CliError::in_file(path, e))
}

/// Runs `zksim confirm`; `Ok(false)` when a trace diverged.
pub fn run(args: &ConfirmArgs) -> Result<bool, CliError> {
    if args.recipe.is_none() && args.traces.is_empty() {
        return Err("give traces to confirm, or --recipe NAME --seeds A..B".into());
    }
    if args.recipe.is_some() && !args.traces.is_empty() {
        return Err("give traces or --recipe with --seeds, not both".into());
    }
    args.knobs.refuse_drawn(args.swarm)?;
    let opts = RecordOptions::default();
    let mut traces: Vec<(String, Trace)> = Vec::new();
    for path in &args.traces {
        traces.push((path.display().to_string(), read_trace(path)?));
    }
    let mut results = Vec::new();
    if args.transcript.is_some() && (args.traces.len() != 1 || args.recipe.is_some()) {
        return Err("--transcript needs exactly one trace".into());
    }
    if let Some(path) = &args.transcript {
        let inputs: Vec<&Path> = args.traces.iter().map(PathBuf::as_path).collect();
        crate::files::check_outputs(&[("--transcript", path)], &inputs)?;
    }
    let mut each = |name: String, trace: &Trace| -> Result<(), String> {
        let c = confirm_trace(&name, trace, &opts, args.transcript.as_deref())?;
        if !args.json {
            print_one(&c);
        }
        results.push(c);
        Ok(())
    };
    for (name, trace) in &traces {
        each(name.clone(), trace)?;
    }
    if let (Some(name), Some(range)) = (&args.recipe, args.seeds) {
        let recipe = zksim_sim::recipes::find(name)?;
        let options = args.knobs.options();
        zksim_sim::recipes::validate(recipe.name, &options).map_err(|e| e.as_flag())?;
        for seed in range.start..range.end {
            let outcome = zksim_sim::run::simulate(&recipe, &options, seed, args.swarm, true)?;
            let text = outcome.text.unwrap_or_default();
            let trace = trace::parse(&text)?;
            each(format!("{name} seed {seed}"), &trace)?;
        }
    }
    let diverged = results.iter().filter(|c| c.divergence.is_some()).count();
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        crate::say!(
            "confirm: {} on a real ZooKeeper, {} confirmed, {} diverged",
            count(results.len(), "trace", "traces"),
            results.len() - diverged,
            diverged
        );
    }
    Ok(diverged == 0)
}

fn print_one(c: &Confirmation) {
    for n in &c.notes {
        crate::say!("{}: note: {n}", c.trace);
    }
    match &c.divergence {
        None => {
            crate::say!(
                "{}: confirmed ({} on the real server, {} and {} delivered compared)",
                c.trace,
                count(c.steps, "step", "steps"),
                count(c.replies, "reply", "replies"),
                count(c.frames, "frame", "frames")
            );
            for v in &c.violations {
                crate::say!("  violated {v:?}: also on the real server (every answer it rests on is the real server's)");
            }
        }
        Some(d) => {
            crate::say!(
                "{}: DIVERGED at trace step {} ({}: {}), {}:",
                c.trace,
                d.at.step,
                d.at.process,
                d.at.what,
                d.field
            );
            crate::say!("  real  {}", d.real);
            crate::say!("  model {}", d.model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: each kind of trace event becomes the script step that realizes it: a connect per
    // session created, a request per request handled (and no other), a disconnect per
    // dropped connection, a reconnect with the client's own view, an expire per expiry.
    #[test]
    fn a_trace_becomes_the_script_that_realizes_its_server_side() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/regressions/leader-demoted.check.jsonl");
        let trace = read_trace(&path).unwrap();
        let tr = translate(&trace).unwrap();
        let events = || trace.steps.iter().flat_map(|l| l.events.iter());
        let steps = || tr.script.steps.iter().map(|s| &s.action);
        let created = events()
            .filter(|e| {
                matches!(
                    e,
                    Event::Changed {
                        change: Change::SessionCreated { .. }
                    }
                )
            })
            .count();
        let handled = events()
            .filter(|e| matches!(e, Event::Handled { .. }))
            .count();
        let expired = events()
            .filter(|e| {
                matches!(
                    e,
                    Event::Changed {
                        change: Change::SessionClosed { expired: true, .. }
                    }
                )
            })
            .count();
        let reconnects = events()
            .filter(|e| matches!(e, Event::Reconnected { .. }))
            .count();
        let count_of = |f: fn(&StepAction) -> bool| steps().filter(|a| f(a)).count();
        assert_eq!(
            count_of(|a| matches!(a, StepAction::Connect { .. })),
            created
        );
        assert_eq!(
            count_of(|a| matches!(a, StepAction::Request { .. })),
            handled
        );
        assert_eq!(
            count_of(|a| matches!(a, StepAction::Expire { .. })),
            expired
        );
        assert!(expired > 0 && reconnects > 0, "the trace exercises both");
        assert_eq!(
            count_of(|a| matches!(
                a,
                StepAction::Reconnect {
                    resume: Some(_),
                    ..
                }
            )),
            reconnects
        );
        // Requests go out in the order the model's server took them.
        let first = steps()
            .find_map(|a| match a {
                StepAction::Request { request, .. } => Some(request.clone()),
                _ => None,
            })
            .unwrap();
        let sent = events()
            .find_map(|e| match e {
                Event::Handled { process, xid, .. } => Some((*process, *xid)),
                _ => None,
            })
            .and_then(|(p, x)| {
                events().find_map(|e| match e {
                    Event::Sent {
                        process,
                        xid,
                        request,
                    } if (*process, *xid) == (p, x) => Some(request.clone()),
                    _ => None,
                })
            })
            .unwrap();
        assert_eq!(first, sent);
        assert!(!tr.delivered.iter().all(Vec::is_empty));
    }

    // Goal: a reconnect resumes with what the client was delivered: m1's create of /master
    // was handled (zxid 3) but its reply died with the connection, so m1 reconnects having
    // seen no zxid at all, as the model's client does.
    #[test]
    fn a_reply_lost_on_the_way_back_is_not_in_the_resume() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/regressions/leader-demoted.check.jsonl");
        let tr = translate(&read_trace(&path).unwrap()).unwrap();
        let resume = tr
            .script
            .steps
            .iter()
            .find_map(|s| match &s.action {
                StepAction::Reconnect { session, resume } if session == "m1" => resume.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(resume.last_zxid, 0, "{resume:?}");
    }

    // Goal: the queued tasks' set-up session (no process holds it) replays its creates and
    // closes, and a process's own writes are never sent twice.
    #[test]
    fn the_set_up_session_replays_its_creates_and_its_close() {
        let recipe = zksim_sim::recipes::find("fixed").unwrap();
        let mut options = zksim_sim::options::Options::default();
        options.shape.queued = Some(2);
        let outcome = zksim_sim::run::simulate(&recipe, &options, 1, false, true).unwrap();
        let tr = translate(&trace::parse(&outcome.text.unwrap()).unwrap()).unwrap();
        let setups: Vec<&StepAction> = tr
            .script
            .steps
            .iter()
            .map(|s| &s.action)
            .filter(|a| a.session().is_some_and(|s| s.starts_with("set-up")))
            .collect();
        assert!(
            matches!(setups.first(), Some(StepAction::Connect { .. }))
                && matches!(setups.last(), Some(StepAction::Close { .. }))
                && setups.len() > 2,
            "{setups:?}"
        );
        // /tasks, /clients, and a task and its marker for each of the two queued.
        let creates = setups
            .iter()
            .filter(|a| matches!(a, StepAction::Request { .. }))
            .count();
        assert_eq!(creates, 6, "{setups:?}");
    }
}
