//! The conformance transcript format (schema 1).
//!
//! A *script* is a list of steps run by named sessions; a *transcript* is the same script with
//! what a real ZooKeeper server answered recorded in each step's `expect`. Scripts live in
//! `tests/conformance/scripts/*.json`, transcripts recorded from a real 3.8.0 server in
//! `tests/conformance/transcripts/*.json`. The format is documented in `docs/CONFORMANCE.md`.
//!
//! Normalization, so that transcripts compare across runs and against the model:
//! - every zxid `z` (reply header, czxid, mzxid, pzxid) is written as `z - base`, where `base` is
//!   the last zxid before the transcript's first session was created (0 stays 0);
//! - `ctime` and `mtime` are written as the (normalized) zxid of the transaction that set them,
//!   0 for the nodes that exist from the start;
//! - `ephemeral_owner` is written as the 1-based ordinal of the owning session in the order the
//!   sessions were first connected, 0 for non-ephemeral nodes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zksim_model::op::{Reply, Request, WatchedEvent};

/// The schema version this build reads and writes.
pub const SCHEMA: u32 = 1;

/// A script or a recorded transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    /// Must equal [`SCHEMA`].
    pub schema: u32,
    /// Short identifier, e.g. `sequential_naming`.
    pub name: String,
    /// What the transcript demonstrates.
    pub about: String,
    /// Numbers of the items of the conformance checklist (`docs/CONFORMANCE.md`) it covers.
    #[serde(default)]
    pub covers: Vec<u32>,
    /// The server's tickTime in ms (session timeouts are clamped to [2, 20] ticks).
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u32,
    /// Present once recorded: which server and which client produced the expectations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// The steps, run one at a time.
    pub steps: Vec<Step>,
}

fn default_tick_ms() -> u32 {
    200
}

impl Transcript {
    /// The longest `tick_ms`, `timeout_ms` or `wait` a script may ask for: a day.
    pub const DURATION_MS_MAX: u64 = zksim_sim::options::Options::DURATION_MS_MAX;
    /// The most `send_then_disconnect` steps in one script: the model follows each both
    /// ways (applied or lost), so each doubles the work of checking the transcript.
    pub const SEND_THEN_DISCONNECT_MAX: usize = 10;

    /// Refuses a script out of bounds (its `tick_ms`, each step's durations, the number of
    /// `send_then_disconnect` steps), naming the step. A `fill` is bounded as it is read
    /// (`zksim_model::data::FILL_LEN_MAX`).
    pub fn validate(&self) -> Result<(), String> {
        self.check_bounds().map_err(|(step, problem)| match step {
            Some(i) => format!("step {i}: {problem}"),
            None => problem,
        })
    }

    /// [`Transcript::validate`], with the index of the step at fault apart.
    pub fn check_bounds(&self) -> Result<(), (Option<usize>, String)> {
        let over = |what: &str, v: u64| {
            (v > Self::DURATION_MS_MAX).then(|| {
                format!(
                    "{what} {v} is over the limit of {} (a day)",
                    Self::DURATION_MS_MAX
                )
            })
        };
        if self.tick_ms == 0 {
            return Err((None, "tick_ms 0: a tick must last at least 1 ms".into()));
        }
        if let Some(e) = over("tick_ms", u64::from(self.tick_ms)) {
            return Err((None, e));
        }
        let mut forks = 0;
        for (i, step) in self.steps.iter().enumerate() {
            let problem = match &step.action {
                StepAction::Wait { ms } => over("wait ms", u64::from(*ms)),
                StepAction::Connect { timeout_ms, .. } => {
                    over("timeout_ms", u64::from(*timeout_ms))
                }
                StepAction::SendThenDisconnect { .. } => {
                    forks += 1;
                    (forks > Self::SEND_THEN_DISCONNECT_MAX).then(|| {
                        format!(
                            "more than {} send_then_disconnect steps (each doubles the work \
                             of checking the transcript)",
                            Self::SEND_THEN_DISCONNECT_MAX
                        )
                    })
                }
                _ => None,
            };
            // A restart's measured times bound the checker's windows.
            let timed = step.expect.as_ref().and_then(|e| {
                let stop = e.server_stop_ms.and_then(|v| over("server_stop_ms", v));
                stop.or_else(|| e.server_up_ms.and_then(|v| over("server_up_ms", v)))
            });
            if let Some(p) = problem.or(timed) {
                return Err((Some(i), p));
            }
        }
        Ok(())
    }
}

/// Provenance of a recorded transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// Server version and configuration.
    pub server: String,
    /// The client that spoke to it, and what that client does on its own side.
    pub client: String,
}

/// One step of a script: something a session does, plus what was observed. (Unknown fields
/// are refused by [`StepAction`], which receives every key but `expect`.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What to do.
    #[serde(flatten)]
    pub action: StepAction,
    /// What the real server answered; absent in a script that was not recorded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepAction {
    /// Open a new session named `session` asking for `timeout_ms`.
    Connect {
        /// Session name, unique in the transcript.
        session: String,
        /// Requested session timeout.
        timeout_ms: u32,
    },
    /// Send one request and wait for its reply.
    Request {
        /// Session name.
        session: String,
        /// The request.
        request: Request,
    },
    /// Send one request and drop the connection before reading its reply. The reply is
    /// ConnectionLoss; whether the server applied the request is up to the server, and later
    /// steps show which: the model must be able to produce either outcome.
    SendThenDisconnect {
        /// Session name.
        session: String,
        /// The request.
        request: Request,
    },
    /// Drop the session's TCP connection (the session lives on at the server).
    Disconnect {
        /// Session name.
        session: String,
    },
    /// Reconnect a disconnected session: same session id and lastZxid; watches are
    /// re-registered (SetWatches) as the Java client does.
    Reconnect {
        /// Session name.
        session: String,
        /// The client's view to reconnect with, instead of the one the replies and events
        /// this script's client received would give (`zksim confirm` writes it: a trace's
        /// client lost some frames the real one received).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Expire a session that is not connected, at this point: the session is closed by a
    /// closeSession from a connection of its own (ZooKeeper expires a session by submitting
    /// that same request, `ZooKeeperServer.expire`), which is not the session's client: that
    /// client stays disconnected and learns of the expiry when it reconnects.
    Expire {
        /// Session name.
        session: String,
    },
    /// Close the session (closeSession): its ephemerals go in one transaction.
    Close {
        /// Session name.
        session: String,
    },
    /// Stop the server and start it again on the same data directory and port. Every
    /// connection is lost (each connected session's client sees `Disconnected` and stays
    /// disconnected until its `reconnect`); the data, the zxid and the sessions survive, and
    /// each session's timeout starts over when the new server starts.
    RestartServer {},
    /// Let time pass; connected sessions keep sending heartbeats, disconnected ones do not.
    Wait {
        /// How long, in ms.
        ms: u32,
    },
}

impl StepAction {
    /// The session the step acts for, if any.
    pub fn session(&self) -> Option<&str> {
        match self {
            StepAction::Connect { session, .. }
            | StepAction::Request { session, .. }
            | StepAction::SendThenDisconnect { session, .. }
            | StepAction::Disconnect { session }
            | StepAction::Reconnect { session, .. }
            | StepAction::Expire { session }
            | StepAction::Close { session } => Some(session),
            StepAction::RestartServer {} | StepAction::Wait { .. } => None,
        }
    }
}

/// What a reconnecting client says it has seen: its last zxid and the watches it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The last zxid the client saw in a reply (normalized, as transcripts write zxids).
    pub last_zxid: i64,
    /// The watches it re-registers, in the order it sends them.
    pub watches: zksim_model::server::SetWatches,
}

/// What was observed for one step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The reply to the step's request (`request`, `send_then_disconnect`, `close`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// The normalized zxid in the reply header (`request`, `expire`), or the server's last
    /// zxid once it is up again (`restart_server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zxid: Option<i64>,
    /// The negotiated session timeout (`connect`, and `reconnect` unless expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiated_timeout_ms: Option<u32>,
    /// Every event each session received during the step, in arrival order. Sessions with
    /// none are left out. Session events (`Disconnected`, `SyncConnected`, `Expired`) are
    /// generated by the client as the Java client does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, Vec<WatchedEvent>>,
    /// How many of the acting session's events arrived before its reply (`request` only,
    /// written when the acting session received events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_reply: Option<usize>,
    /// `restart_server` only: how long the old server took to exit after SIGTERM. It ran
    /// until then and may have expired sessions. Not compared: the checker takes it as how
    /// long after the step began a session may have expired on the old server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_stop_ms: Option<u64>,
    /// `restart_server` only: how long the new server had been up (its `zk_uptime`) when the
    /// recording went on. Its session tracker, which starts every session's timeout over, was
    /// built at some moment within that time. Not compared: the checker takes it as how long
    /// before the step a restored session's timeout may have started over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_up_ms: Option<u64>,
}
