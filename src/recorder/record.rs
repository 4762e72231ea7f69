//! Running one script against a live server and filling in each step's `expect`.
//!
//! What the recorder does on the client side, as the Java client (3.8) would, and nothing more:
//! - session events: `(None, SyncConnected)` on connect and on a successful reconnect,
//!   `(None, Disconnected)` when the connection is dropped (by the script or by the server),
//!   `(None, Expired)` when a reconnect is answered with a timeout <= 0;
//! - `lastZxid` = the highest reply-header zxid of a request reply (`ClientCnxn.readResponse`
//!   updates it from every reply that is not a ping, auth or notification, when its zxid > 0);
//!   it is sent as `lastZxidSeen` and as `relativeZxid` of `SetWatches` on reconnect;
//! - the watch tables of `ZKWatchManager` (kept with the model's [`zksim_model::client::ClientWatches`]), re-registered on reconnect
//!   with `setWatches` (101), or `setWatches2` (105) when there are persistent watches;
//! - after expiry or close, requests fail locally with SessionExpired without being sent.
//!
//! It does not validate paths, retry, or reconnect on its own, and it does not generate the
//! `DataWatchRemoved`/`ChildWatchRemoved` events the Java client delivers locally after a
//! successful `removeWatches`.
//!
//! **The barrier.** After every step, each connected session sends a ping and reads up to the
//! ping's reply. The server queues the watch events of a transaction on every watching
//! connection before it sends the writer its reply, and answers a later ping on a connection
//! only after what was queued there before, so the barrier collects every event the step
//! caused. Events of different sessions are recorded separately (their relative order is not
//! deterministic).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use zksim_model::op::{KeeperState, OpResult, Request, Response, WatchedEvent};
use zksim_model::{ErrorCode, Stat};

use super::conn::{Conn, ConnError};
use super::jute::{self, xid, ConnectRequest, ConnectResponse, Frame};
use super::server::{four_letter_word, mntr_uptime_ms, srvr_zxid, Server, ServerConfig};
use crate::conformance::transcript::{Expect, Recorded, Resume, StepAction, Transcript};
use zksim_model::client::ClientWatches;

/// How to run the server for a recording.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// The `java` executable.
    pub java: String,
    /// The class path of the server.
    pub classpath: String,
    /// How long the server may take to start.
    pub start_timeout: Duration,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            java: "java".into(),
            classpath: super::server::default_classpath(),
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// The `recorded.client` text of every transcript this recorder writes.
pub const CLIENT_DESCRIPTION: &str = "zksim recorder: raw jute over TCP; client-side: \
    SyncConnected/Disconnected/Expired events, SetWatches on reconnect with lastZxid, local \
    SessionExpired after expiry or close; no path validation, no retries";

/// The Debian package version of `zookeeper`, if dpkg knows it.
pub fn debian_package_version() -> Option<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "zookeeper"])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// Starts a fresh server, runs the script's steps on it, and returns the transcript with every
/// step's `expect` and `recorded` filled in. Existing expectations in the input are replaced.
/// Errors name the step (0-based index) and the problem.
pub fn record_transcript(script: &Transcript, opts: &RecordOptions) -> Result<Transcript, String> {
    if script.schema != crate::conformance::transcript::SCHEMA {
        return Err(format!(
            "schema {} (this recorder writes schema {})",
            script.schema,
            crate::conformance::transcript::SCHEMA
        ));
    }
    if script.tick_ms == 0 {
        return Err("tick_ms must be positive".into());
    }
    let server = Server::start(&ServerConfig {
        java: opts.java.clone(),
        classpath: opts.classpath.clone(),
        tick_ms: script.tick_ms,
        start_timeout: opts.start_timeout,
    })?;
    let version = super::server::srvr_version(&server.srvr_at_start)
        .unwrap_or_else(|| "(unknown version)".into());
    let deb = debian_package_version().unwrap_or_else(|| "unknown".into());
    let mut runner = Runner::new(server, script.tick_ms);
    let mut out = script.clone();
    for (i, step) in out.steps.iter_mut().enumerate() {
        if trace_enabled() {
            eprintln!("[zksim record] step {i}: {}", describe(&step.action));
        }
        match runner.step(&step.action) {
            Ok(expect) => step.expect = Some(expect),
            Err(e) => {
                let mut msg = format!("step {i} ({}): {e}", describe(&step.action));
                if e.contains("did not answer") || e.contains("handshake") {
                    msg.push_str(&format!("\nserver log ends:\n{}", runner.server.log_tail()));
                }
                return Err(msg);
            }
        }
    }
    runner.shutdown();
    out.recorded = Some(Recorded {
        server: format!(
            "Apache ZooKeeper {version} (Debian package {deb}), standalone, tickTime={}",
            script.tick_ms
        ),
        client: CLIENT_DESCRIPTION.into(),
    });
    Ok(out)
}

/// A one-line description of a step for messages.
pub fn describe(a: &StepAction) -> String {
    match a {
        StepAction::Connect { session, .. } => format!("connect {session}"),
        StepAction::Request { session, request } => match request.path() {
            Some(p) => format!("{} {p:?} by {session}", request.name()),
            None => format!("{} by {session}", request.name()),
        },
        StepAction::SendThenDisconnect { session, request } => {
            format!("send_then_disconnect {} by {session}", request.name())
        }
        StepAction::Disconnect { session } => format!("disconnect {session}"),
        StepAction::Reconnect { session, .. } => format!("reconnect {session}"),
        StepAction::Expire { session } => format!("expire {session}"),
        StepAction::Close { session } => format!("close {session}"),
        StepAction::RestartServer {} => "restart the server".into(),
        StepAction::Wait { ms } => format!("wait {ms} ms"),
    }
}

/// `ZKSIM_RECORD_TRACE=1` prints every frame header received to stderr.
fn trace_enabled() -> bool {
    std::env::var_os("ZKSIM_RECORD_TRACE").is_some_and(|v| v == "1")
}

/// Why a session can no longer be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dead {
    Closed,
    Expired,
}

#[derive(Debug)]
enum Link {
    Connected(Conn),
    Disconnected,
    Dead(Dead),
}

#[derive(Debug)]
struct Session {
    name: String,
    raw_id: i64,
    passwd: Vec<u8>,
    requested_timeout: u32,
    link: Link,
    next_xid: i32,
    last_zxid: i64,
    watches: ClientWatches,
    /// The watches a `resume` told the next reconnect to re-register instead of `watches`
    /// (a trace's client view; `zksim confirm`).
    resume: Option<zksim_model::server::SetWatches>,
}

impl Session {
    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }
}

/// The outcome of waiting for one reply.
enum Outcome {
    Reply(Frame),
    Lost,
}

struct Runner {
    /// The server, which a `restart_server` step restarts (same address).
    server: Server,
    /// The transcript's clock: the script's time is `elapsed_ms` after the real instant
    /// `since`. Only waits move it, and a wait ends at that instant, so the time the other
    /// steps take is taken out of the next wait instead of adding up. It is set again where a
    /// session falls silent and after a restart, so a session's silence lasts as long as the
    /// waits since, plus the time of the steps since the last wait (about a millisecond each).
    since: Instant,
    elapsed_ms: u64,
    addr: SocketAddr,
    tick_ms: u32,
    /// The server's last zxid before the first session was created.
    base: Option<i64>,
    /// Index + 1 is the session's ordinal.
    sessions: Vec<Session>,
    by_name: BTreeMap<String, usize>,
    ordinal_of_raw: BTreeMap<i64, i64>,
    /// Events of the current step.
    events: BTreeMap<String, Vec<WatchedEvent>>,
}

impl Runner {
    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn new(server: Server, tick_ms: u32) -> Self {
        Runner {
            addr: server.addr(),
            server,
            since: Instant::now(),
            elapsed_ms: 0,
            tick_ms,
            base: None,
            sessions: Vec::new(),
            by_name: BTreeMap::new(),
            ordinal_of_raw: BTreeMap::new(),
            events: BTreeMap::new(),
        }
    }

    /// Closes the connections; the server stops when the runner is dropped.
    fn shutdown(&mut self) {
        for s in &mut self.sessions {
            if let Link::Connected(c) = std::mem::replace(&mut s.link, Link::Disconnected) {
                c.close();
            }
        }
    }

    fn step(&mut self, action: &StepAction) -> Result<Expect, String> {
        self.events.clear();
        let mut expect = Expect::default();
        match action {
            StepAction::Connect {
                session,
                timeout_ms,
            } => self.connect(session, *timeout_ms, &mut expect)?,
            StepAction::Request { session, request } => {
                self.request(session, request, &mut expect)?
            }
            StepAction::SendThenDisconnect { session, request } => {
                self.send_then_disconnect(session, request, &mut expect)?
            }
            StepAction::Disconnect { session } => {
                let i = self.connected(session)?;
                self.drop_connection(i);
            }
            StepAction::Reconnect { session, resume } => {
                self.reconnect(session, resume.as_ref(), &mut expect)?
            }
            StepAction::Expire { session } => self.expire(session, &mut expect)?,
            StepAction::Close { session } => self.close(session, &mut expect)?,
            StepAction::RestartServer {} => self.restart_server(&mut expect)?,
            StepAction::Wait { ms } => self.wait(*ms)?,
        }
        self.barrier()?;
        expect.events = std::mem::take(&mut self.events);
        expect.events.retain(|_, v| !v.is_empty());
        // before_reply is written only when the acting session received events.
        if let StepAction::Request { session, .. } = action {
            if !expect.events.contains_key(session) {
                expect.before_reply = None;
            }
        }
        Ok(expect)
    }

    // ---- sessions -------------------------------------------------------------------------

    fn index(&self, name: &str) -> Result<usize, String> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown session {name:?} (no connect step before this one)"))
    }

    /// The index of a session that must be connected now.
    fn connected(&self, name: &str) -> Result<usize, String> {
        let i = self.index(name)?;
        match self.sessions[i].link {
            Link::Connected(_) => Ok(i),
            Link::Disconnected => Err(format!(
                "session {name:?} is disconnected (add a reconnect step first)"
            )),
            Link::Dead(Dead::Closed) => Err(format!("session {name:?} is closed")),
            Link::Dead(Dead::Expired) => Err(format!("session {name:?} has expired")),
        }
    }

    fn push_event(&mut self, i: usize, ev: WatchedEvent) {
        let s = &mut self.sessions[i];
        s.watches.on_event(&ev);
        self.events.entry(s.name.clone()).or_default().push(ev);
    }

    fn event_count(&self, i: usize) -> usize {
        self.events.get(&self.sessions[i].name).map_or(0, Vec::len)
    }

    /// Makes now the script's present time: the time the steps since the last wait took is
    /// not taken out of the next one. Called where a session falls silent, so that its
    /// silence is measured from here.
    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn set_clock(&mut self) {
        let now = Instant::now();
        self.since = now
            .checked_sub(Duration::from_millis(self.elapsed_ms))
            .unwrap_or(now);
    }

    /// The connection is gone: the client fails the pending request with ConnectionLoss and
    /// then delivers `(None, Disconnected)`. The session falls silent from now on.
    fn drop_connection(&mut self, i: usize) {
        self.set_clock();
        if let Link::Connected(c) =
            std::mem::replace(&mut self.sessions[i].link, Link::Disconnected)
        {
            c.close();
        }
        self.push_event(i, WatchedEvent::session(KeeperState::Disconnected));
    }

    fn conn(&mut self, i: usize) -> &mut Conn {
        match &mut self.sessions[i].link {
            Link::Connected(c) => c,
            _ => unreachable!("session {i} is not connected"),
        }
    }

    /// Sends a frame; `false` if the server has closed the connection.
    fn send(&mut self, i: usize, payload: &[u8]) -> Result<bool, String> {
        match self.conn(i).send(payload) {
            Ok(()) => Ok(true),
            Err(ConnError::Closed(_)) => Ok(false),
            Err(e) => Err(format!(
                "writing to session {:?}: {e}",
                self.sessions[i].name
            )),
        }
    }

    /// Reads frames on session `i` until the reply with `want` as its xid, recording the
    /// notifications that arrive first.
    fn read_until(&mut self, i: usize, want: i32) -> Result<Outcome, String> {
        loop {
            let payload = match self.conn(i).recv() {
                Ok(p) => p,
                Err(ConnError::Closed(_)) => return Ok(Outcome::Lost),
                Err(e) => {
                    return Err(format!(
                        "reading from session {:?}: {e}",
                        self.sessions[i].name
                    ))
                }
            };
            let frame = Frame::decode(&payload)?;
            if trace_enabled() {
                eprintln!(
                    "[zksim record] {} <- xid {} zxid {} err {} ({} body bytes)",
                    self.sessions[i].name,
                    frame.header.xid,
                    frame.header.zxid,
                    frame.header.err,
                    frame.body.len()
                );
            }
            if frame.header.xid == xid::NOTIFICATION {
                let ev = jute::decode_watcher_event(&frame.body)?;
                self.push_event(i, ev);
            } else if frame.header.xid == want {
                return Ok(Outcome::Reply(frame));
            } else {
                return Err(format!(
                    "session {:?}: unexpected frame with xid {} (waiting for xid {want})",
                    self.sessions[i].name, frame.header.xid
                ));
            }
        }
    }

    fn ping(&mut self, i: usize) -> Result<(), String> {
        let ping = jute::with_header(xid::PING, jute::opcode::PING, &[]);
        if !self.send(i, &ping)? {
            self.drop_connection(i);
            return Ok(());
        }
        match self.read_until(i, xid::PING)? {
            Outcome::Reply(_) => {}
            Outcome::Lost => self.drop_connection(i),
        }
        Ok(())
    }

    fn barrier(&mut self) -> Result<(), String> {
        for i in 0..self.sessions.len() {
            if matches!(self.sessions[i].link, Link::Connected(_)) {
                self.ping(i)?;
            }
        }
        Ok(())
    }

    // ---- steps ----------------------------------------------------------------------------

    fn connect(&mut self, name: &str, timeout_ms: u32, expect: &mut Expect) -> Result<(), String> {
        if self.by_name.contains_key(name) {
            return Err(format!(
                "session {name:?} is connected twice (use a new name, or reconnect)"
            ));
        }
        if self.base.is_none() {
            let srvr = four_letter_word(self.addr, "srvr")?;
            self.base = Some(srvr_zxid(&srvr)?);
        }
        let mut conn = Conn::open(self.addr)?;
        let resp = conn
            .handshake(&ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout_ms: timeout_ms as i32,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: false,
            })
            .map_err(|e| format!("connect handshake: {e}"))?;
        if resp.timeout_ms <= 0 {
            return Err(format!(
                "the server refused a new session (timeout {})",
                resp.timeout_ms
            ));
        }
        let i = self.sessions.len();
        self.sessions.push(Session {
            name: name.to_string(),
            raw_id: resp.session_id,
            passwd: resp.passwd,
            requested_timeout: timeout_ms,
            link: Link::Connected(conn),
            next_xid: 1,
            last_zxid: 0,
            watches: ClientWatches::default(),
            resume: None,
        });
        self.by_name.insert(name.to_string(), i);
        self.ordinal_of_raw.insert(resp.session_id, i as i64 + 1);
        self.push_event(i, WatchedEvent::session(KeeperState::SyncConnected));
        expect.negotiated_timeout_ms = Some(resp.timeout_ms as u32);
        Ok(())
    }

    fn request(&mut self, name: &str, req: &Request, expect: &mut Expect) -> Result<(), String> {
        let i = self.index(name)?;
        if let Link::Dead(_) = self.sessions[i].link {
            // The Java client fails it locally (conLossPacket in state CLOSED).
            expect.reply = Some(Err(ErrorCode::SessionExpired));
            return Ok(());
        }
        let i = self.connected(name)?;
        let x = self.sessions[i].xid();
        let payload = jute::encode_request(x, req)?;
        let outcome = if self.send(i, &payload)? {
            self.read_until(i, x)?
        } else {
            Outcome::Lost
        };
        expect.before_reply = Some(self.event_count(i));
        match outcome {
            Outcome::Lost => {
                self.drop_connection(i);
                expect.reply = Some(Err(ErrorCode::ConnectionLoss));
            }
            Outcome::Reply(frame) => {
                let h = frame.header;
                if h.zxid > 0 {
                    let s = &mut self.sessions[i];
                    s.last_zxid = s.last_zxid.max(h.zxid);
                }
                let code = jute::error_code(h.err)?;
                self.sessions[i].watches.on_reply(req, code);
                let reply = if code == ErrorCode::Ok {
                    let raw = jute::decode_response(req, &frame.body)?;
                    Ok(self.norm_response(raw)?)
                } else {
                    Err(code)
                };
                expect.reply = Some(reply);
                expect.zxid = Some(self.norm_zxid(h.zxid));
            }
        }
        Ok(())
    }

    fn send_then_disconnect(
        &mut self,
        name: &str,
        req: &Request,
        expect: &mut Expect,
    ) -> Result<(), String> {
        let i = self.connected(name)?;
        let x = self.sessions[i].xid();
        let payload = jute::encode_request(x, req)?;
        let port = self.conn(i).local_port();
        let _sent = self.send(i, &payload)?;
        self.drop_connection(i);
        expect.reply = Some(Err(ErrorCode::ConnectionLoss));
        if let Some(port) = port {
            self.settle_after_drop(port)?;
        }
        Ok(())
    }

    /// Waits until the server has noticed that the connection from local port `port` is gone
    /// (it is no longer listed by `cons`, so everything sent on it before the close has been
    /// read) and has finished every request it took in (`srvr` reports `Outstanding: 0`), so
    /// that the step's barrier sees the events of a request the server applied.
    ///
    /// Whether the server applies such a request at all is a race inside the server: its
    /// `RequestThrottler` drops requests whose connection is already closed ("stale") when it
    /// dequeues them. The transcript records whichever happened.
    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn settle_after_drop(&self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listed = format!(":{port}[");
        loop {
            let cons = four_letter_word(self.addr, "cons")?;
            if !cons.contains(&listed) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server still lists the dropped connection from port {port} after 5 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        loop {
            let srvr = four_letter_word(self.addr, "srvr")?;
            let outstanding = srvr
                .lines()
                .find_map(|l| l.strip_prefix("Outstanding:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| format!("no `Outstanding:` in the srvr answer:\n{srvr}"))?;
            if outstanding == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server still has {outstanding} outstanding requests after 5 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn reconnect(
        &mut self,
        name: &str,
        resume: Option<&Resume>,
        expect: &mut Expect,
    ) -> Result<(), String> {
        let i = self.index(name)?;
        match self.sessions[i].link {
            Link::Disconnected => {}
            Link::Connected(_) => {
                return Err(format!(
                    "session {name:?} is connected (disconnect it before reconnecting)"
                ))
            }
            Link::Dead(d) => {
                return Err(format!(
                    "session {name:?} is {} and cannot reconnect",
                    if d == Dead::Closed {
                        "closed"
                    } else {
                        "expired"
                    }
                ))
            }
        }
        if let Some(r) = resume {
            let base = self.base.unwrap_or(0);
            let s = &mut self.sessions[i];
            s.last_zxid = if r.last_zxid > 0 {
                r.last_zxid + base
            } else {
                0
            };
            s.resume = Some(r.watches.clone());
        }
        let s = &self.sessions[i];
        let (conn, resp) = self
            .rejoin(i, s.last_zxid)
            .map_err(|e| format!("reconnect handshake: {e}"))?;
        if resp.timeout_ms <= 0 {
            conn.close();
            let s = &mut self.sessions[i];
            s.link = Link::Dead(Dead::Expired);
            s.watches = ClientWatches::default();
            self.push_event(i, WatchedEvent::session(KeeperState::Expired));
            return Ok(());
        }
        if resp.session_id != s.raw_id {
            return Err(format!(
                "reconnect answered with session 0x{:x}, expected 0x{:x}",
                resp.session_id, s.raw_id
            ));
        }
        let set_watches = match self.sessions[i].resume.take() {
            Some(w) => w,
            None => self.sessions[i].watches.set_watches(),
        };
        let s = &self.sessions[i];
        let frame = jute::encode_set_watches(s.last_zxid, &set_watches);
        self.sessions[i].link = Link::Connected(conn);
        self.push_event(i, WatchedEvent::session(KeeperState::SyncConnected));
        expect.negotiated_timeout_ms = Some(resp.timeout_ms as u32);
        if !set_watches.is_empty() {
            if !self.send(i, &frame)? {
                self.drop_connection(i);
                return Ok(());
            }
            match self.read_until(i, xid::SET_WATCHES)? {
                Outcome::Lost => self.drop_connection(i),
                Outcome::Reply(f) => {
                    if f.header.err != 0 {
                        return Err(format!("setWatches failed with code {}", f.header.err));
                    }
                    // The reply goes through the pending queue, so it updates lastZxid.
                    if f.header.zxid > 0 {
                        let s = &mut self.sessions[i];
                        s.last_zxid = s.last_zxid.max(f.header.zxid);
                    }
                }
            }
        }
        Ok(())
    }

    /// A new connection for session `i`'s id and password, saying it has seen `last_zxid`.
    fn rejoin(&self, i: usize, last_zxid: i64) -> Result<(Conn, ConnectResponse), String> {
        let s = &self.sessions[i];
        let mut conn = Conn::open(self.addr)?;
        let resp = conn
            .handshake(&ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: last_zxid,
                timeout_ms: s.requested_timeout as i32,
                session_id: s.raw_id,
                passwd: s.passwd.clone(),
                read_only: false,
            })
            .map_err(|e| e.to_string())?;
        Ok((conn, resp))
    }

    /// Closes a disconnected session from a connection of its own (see
    /// [`StepAction::Expire`]); its client stays disconnected.
    fn expire(&mut self, name: &str, expect: &mut Expect) -> Result<(), String> {
        let i = self.index(name)?;
        if !matches!(self.sessions[i].link, Link::Disconnected) {
            return Err(format!(
                "session {name:?} is not disconnected: only a silent session expires"
            ));
        }
        let (mut conn, resp) = self
            .rejoin(i, 0)
            .map_err(|e| format!("expire {name}: handshake: {e}"))?;
        if resp.timeout_ms <= 0 {
            conn.close();
            return Err(format!(
                "expire {name}: the server had already expired the session"
            ));
        }
        let close = jute::with_header(1, jute::opcode::CLOSE_SESSION, &[]);
        conn.send(&close)
            .map_err(|e| format!("expire {name}: sending closeSession: {e}"))?;
        let frame = loop {
            let payload = conn
                .recv()
                .map_err(|e| format!("expire {name}: reading the closeSession reply: {e}"))?;
            let frame = Frame::decode(&payload)?;
            // Nothing is watched on this connection, so only the reply comes.
            if frame.header.xid == 1 {
                break frame;
            }
        };
        conn.close();
        expect.reply = Some(if frame.header.err == 0 {
            Ok(Response::Empty)
        } else {
            Err(jute::error_code(frame.header.err)?)
        });
        expect.zxid = Some(self.norm_zxid(frame.header.zxid));
        Ok(())
    }

    /// Restarts the server on its data directory. Each connected session then reads what
    /// its connection still holds up to the close (recorded as its events; nothing is
    /// expected) and is disconnected; it stays so until its `reconnect`. The expect's zxid is
    /// the last zxid the new server reports (`srvr`).
    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn restart_server(&mut self, expect: &mut Expect) -> Result<(), String> {
        let asked = Instant::now();
        let stopped = self.server.restart()?;
        expect.server_stop_ms = Some(stopped.as_millis() as u64);
        if trace_enabled() {
            eprintln!(
                "[zksim record] the server stopped in {} ms and served again {} ms after",
                stopped.as_millis(),
                asked.elapsed().as_millis()
            );
        }
        for i in 0..self.sessions.len() {
            if !matches!(self.sessions[i].link, Link::Connected(_)) {
                continue;
            }
            // The old server is gone, so this reads to the end of the connection at once.
            match self.read_until(i, xid::PING)? {
                Outcome::Lost => {}
                Outcome::Reply(_) => {
                    return Err(format!(
                        "session {:?} got a ping reply from a stopped server",
                        self.sessions[i].name
                    ))
                }
            }
            self.drop_connection(i);
        }
        let srvr = four_letter_word(self.addr, "srvr")?;
        expect.zxid = Some(self.norm_zxid(srvr_zxid(&srvr)?));
        let mntr = four_letter_word(self.addr, "mntr")?;
        expect.server_up_ms = Some(mntr_uptime_ms(&mntr)?);
        // The restart takes no time in the script: its clock goes on from the moment the new
        // server serves (its sessions' timeouts started over at most `server_up_ms` before).
        self.set_clock();
        Ok(())
    }

    fn close(&mut self, name: &str, expect: &mut Expect) -> Result<(), String> {
        let i = self.connected(name)?;
        let x = self.sessions[i].xid();
        let payload = jute::with_header(x, jute::opcode::CLOSE_SESSION, &[]);
        let outcome = if self.send(i, &payload)? {
            self.read_until(i, x)?
        } else {
            Outcome::Lost
        };
        expect.reply = Some(match outcome {
            Outcome::Lost => Err(ErrorCode::ConnectionLoss),
            Outcome::Reply(f) if f.header.err == 0 => Ok(Response::Empty),
            Outcome::Reply(f) => Err(jute::error_code(f.header.err)?),
        });
        let s = &mut self.sessions[i];
        if let Link::Connected(c) = std::mem::replace(&mut s.link, Link::Dead(Dead::Closed)) {
            c.close();
        }
        s.watches = ClientWatches::default();
        Ok(())
    }

    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn wait(&mut self, ms: u32) -> Result<(), String> {
        let tick = Duration::from_millis(u64::from(self.tick_ms));
        let start = Instant::now();
        self.elapsed_ms += u64::from(ms);
        let end = self.since + Duration::from_millis(self.elapsed_ms);
        let mut next_ping = start;
        loop {
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            if now >= next_ping {
                self.barrier()?;
                next_ping += tick;
                if next_ping < now {
                    next_ping = now + tick;
                }
            }
            let wake = next_ping.min(end);
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
    }

    // ---- normalization --------------------------------------------------------------------

    fn norm_zxid(&self, z: i64) -> i64 {
        if z > 0 {
            z - self.base.unwrap_or(0)
        } else {
            z
        }
    }

    fn norm_stat(&self, s: Stat) -> Result<Stat, String> {
        let ephemeral_owner = if s.ephemeral_owner == 0 {
            0
        } else {
            *self.ordinal_of_raw.get(&s.ephemeral_owner).ok_or_else(|| {
                format!(
                    "ephemeralOwner 0x{:x} is not a session of this script",
                    s.ephemeral_owner
                )
            })?
        };
        Ok(Stat {
            czxid: self.norm_zxid(s.czxid),
            mzxid: self.norm_zxid(s.mzxid),
            pzxid: self.norm_zxid(s.pzxid),
            ctime: if s.ctime == 0 {
                0
            } else {
                self.norm_zxid(s.czxid)
            },
            mtime: if s.mtime == 0 {
                0
            } else {
                self.norm_zxid(s.mzxid)
            },
            ephemeral_owner,
            ..s
        })
    }

    fn norm_opt(&self, s: Option<Stat>) -> Result<Option<Stat>, String> {
        s.map(|s| self.norm_stat(s)).transpose()
    }

    fn norm_response(&self, r: Response) -> Result<Response, String> {
        Ok(match r {
            Response::Create { path, stat } => Response::Create {
                path,
                stat: self.norm_opt(stat)?,
            },
            Response::Stat { stat } => Response::Stat {
                stat: self.norm_stat(stat)?,
            },
            Response::Data { data, stat } => Response::Data {
                data,
                stat: self.norm_stat(stat)?,
            },
            Response::Acl { acl, stat } => Response::Acl {
                acl,
                stat: self.norm_stat(stat)?,
            },
            Response::Children { children, stat } => Response::Children {
                children,
                stat: self.norm_opt(stat)?,
            },
            Response::Multi { results } => Response::Multi {
                results: results
                    .into_iter()
                    .map(|r| {
                        Ok(match r {
                            OpResult::Create { path, stat } => OpResult::Create {
                                path,
                                stat: self.norm_opt(stat)?,
                            },
                            OpResult::SetData { stat } => OpResult::SetData {
                                stat: self.norm_stat(stat)?,
                            },
                            other => other,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            other @ (Response::Empty | Response::Sync { .. }) => other,
        })
    }
}
