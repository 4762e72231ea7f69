//! `zksim render --html`: a trace as one self-contained page (a swimlane timeline, the znode
//! tree at any step), and `zksim render --mermaid`: a trace as a Mermaid `sequenceDiagram`.
//!
//! The page is the data (one JSON object, built here) plus a small hand-written renderer
//! (`page.js`, `page.css`, included as they are). Rows are the trace's events, one per row,
//! grouped by step; the browser draws only the rows in view, so a trace of 100,000 events stays
//! usable. The tree is computed by replaying the trace on the model: a full snapshot every
//! [`SNAPSHOT_EVERY`] steps and, for every step, the nodes it touched, from which the page
//! rebuilds the tree at any step. The same trace gives the same bytes.

pub mod mermaid;

use std::collections::BTreeMap;

use serde::Serialize;
use zksim_model::op::EventType;
use zksim_model::server::Change;
use zksim_model::stat::SessionId;
use zksim_sim::action::Action;
use zksim_sim::event::Event;
use zksim_sim::plural::count;
use zksim_sim::recipes;
use zksim_sim::render;
use zksim_sim::trace::Trace;

const JS: &str = include_str!("page.js");
const CSS: &str = include_str!("page.css");

/// Steps between two full snapshots of the tree in the page.
pub const SNAPSHOT_EVERY: usize = 500;

/// A row: `[step, lane, kind, label, task]` (lane `-1`: across every lane; task `-1`: none).
type Row = (u64, i64, &'static str, String, i64);
/// A znode as the page shows it: `[path, data, version, owner, cversion, children, mzxid]`.
type NodeView = (String, String, i32, String, i32, i32, i64);

#[derive(Serialize)]
struct Page {
    title: String,
    recipe: String,
    seed: u64,
    lanes: Vec<String>,
    /// Steps taken ([`Trace::steps_taken`]: the start, step 0, is not one), the count every
    /// command reports; `steps` has one entry more.
    steps_taken: u64,
    /// Per step, the start first: `[time_ms, action, first row]`.
    steps: Vec<(u64, String, usize)>,
    rows: Vec<Row>,
    /// Arrows `[from row, to row, kind]`: `req` (process to server), `rep` (server to
    /// process), `lost` (a reply lost on the way back).
    msgs: Vec<(usize, usize, &'static str)>,
    /// Lane states `[from row, to row (exclusive), lane, state]`: `crashed`, `killed`,
    /// `disconnected`, `master` (the lane's session owns `/master`).
    spans: Vec<(usize, usize, usize, &'static str)>,
    tasks: Vec<String>,
    violations: Vec<(String, u64)>,
    tree: TreeData,
    /// What the end line says, in words.
    verdict: String,
}

#[derive(Serialize)]
struct TreeData {
    every: usize,
    /// The tree after steps 0, `every`, `2·every`, ...
    snaps: Vec<Vec<NodeView>>,
    /// Per step, the nodes it touched as they are after it (`[path]` alone: deleted).
    deltas: Vec<Vec<NodeViewOrGone>>,
    /// Why the tree stops early, if the trace does not replay on this build.
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum NodeViewOrGone {
    Node(NodeView),
    Gone((String,)),
}

fn hex(s: SessionId) -> String {
    format!("{s:#x}")
}

/// The task a label is about: the client token in `task-<token>-<seq>`, in the submission's
/// `task-<token>-` (a sequential create's path, before the server appends the sequence number),
/// in `/clients/<token>`, or in a `submitted <token>` claim. The submission and the task it
/// creates are one task, so one entry in the page's menu.
fn task_key(label: &str) -> Option<String> {
    let end = |s: &str| s.find(['/', '"', ' ', ']', ',', ';']).unwrap_or(s.len());
    if let Some(i) = label.find("task-") {
        let rest = &label[i + 5..];
        let name = &rest[..end(rest)];
        let token = match name.rfind('-') {
            Some(j) if is_sequence_suffix(&name[j + 1..]) => &name[..j],
            _ => name,
        };
        return (!token.is_empty()).then(|| token.to_string());
    }
    for prefix in ["/clients/", "submitted "] {
        if let Some(i) = label.find(prefix) {
            let rest = &label[i + prefix.len()..];
            let token = &rest[..end(rest)];
            if !token.is_empty() {
                return Some(token.to_string());
            }
        }
    }
    None
}

/// What follows the last `-` of a sequential node's name: the server's ten digits, or nothing
/// in the path a client asks to create.
fn is_sequence_suffix(s: &str) -> bool {
    s.is_empty() || (s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The action of a step, in words.
pub fn action_label(a: &Action, names: &[String]) -> String {
    let name = |p: &usize| names.get(*p).cloned().unwrap_or_else(|| format!("#{p}"));
    match a {
        Action::ToServer { process } => format!("zk takes {}'s request", name(process)),
        Action::ToClient { process } => format!("{} receives", name(process)),
        Action::Timer { process, timer } => format!("{} timer {timer}", name(process)),
        Action::Choose {
            process,
            choice,
            option,
        } => format!("{} choice {choice} = {option}", name(process)),
        Action::Crash { process } => format!("crash {}", name(process)),
        Action::Kill { process } => format!("kill {}", name(process)),
        Action::Restart { process } => format!("restart {}", name(process)),
        Action::Disconnect { process } => format!("disconnect {}", name(process)),
        Action::Reconnect { process } => format!("reconnect {}", name(process)),
        Action::Expire { session } => format!("expire session {}", hex(*session)),
        Action::StopFaults => "faults stop".into(),
        Action::Advance { ms } => format!("time passes {ms}ms"),
        Action::RestartServer => "restart the server".into(),
        Action::Stall { process, ms } => format!("{} stalls {ms}ms", name(process)),
    }
}

/// The change as one line.
pub fn change_label(c: &Change, owner: impl Fn(SessionId) -> String) -> String {
    match c {
        Change::SessionCreated { zxid, session } => {
            format!("{zxid:#x}: session {} created", owner(*session))
        }
        Change::SessionClosed {
            zxid,
            session,
            expired,
        } => format!(
            "{zxid:#x}: session {} {}",
            owner(*session),
            if *expired { "EXPIRED" } else { "closed" }
        ),
        Change::Created {
            zxid,
            path,
            data,
            owner: o,
            ..
        } => format!(
            "{zxid:#x}: created {path} {}{}",
            data.display(),
            o.map_or(String::new(), |o| format!(" (ephemeral of {})", owner(o)))
        ),
        Change::Deleted { zxid, path, .. } => format!("{zxid:#x}: deleted {path}"),
        Change::DataChanged {
            zxid,
            path,
            data,
            version,
            ..
        } => format!("{zxid:#x}: set {path} {} (v{version})", data.display()),
    }
}

/// Session owners by the processes that opened them.
struct Owners {
    names: Vec<String>,
    by_session: BTreeMap<SessionId, usize>,
}

impl Owners {
    fn label(&self, s: SessionId) -> String {
        match self.by_session.get(&s) {
            Some(p) => format!(
                "{} {}",
                self.names.get(*p).map_or("?", String::as_str),
                hex(s)
            ),
            None => hex(s),
        }
    }
}

/// Replays the trace on the model and records the tree: snapshots and per-step deltas.
fn tree_data(t: &Trace, owners: &Owners) -> TreeData {
    let mut data = TreeData {
        every: SNAPSHOT_EVERY,
        snaps: Vec::new(),
        deltas: Vec::new(),
        error: None,
    };
    let recipe = match recipes::find(&t.header.recipe) {
        Ok(r) => r,
        Err(e) => {
            data.error = Some(format!("the tree is not shown: {e}"));
            return data;
        }
    };
    let (mut world, _) = recipe.world(&t.header.options, t.header.seed);
    let view = |world: &zksim_sim::recipes::BuiltinWorld, path: &str| -> Option<NodeView> {
        let n = world.server().tree().get(path)?;
        let st = n.stat();
        Some((
            path.to_string(),
            n.data.display(),
            st.version,
            n.owner().map_or(String::new(), |o| owners.label(o)),
            st.cversion,
            st.num_children,
            st.mzxid,
        ))
    };
    let snapshot = |world: &zksim_sim::recipes::BuiltinWorld| -> Vec<NodeView> {
        let paths: Vec<String> = world
            .server()
            .tree()
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        paths.iter().filter_map(|p| view(world, p)).collect()
    };
    for (i, s) in t.steps.iter().enumerate() {
        if i > 0 {
            let Some(action) = &s.action else {
                data.error = Some(format!("step {i} has no action; the tree stops here"));
                break;
            };
            if world.step(action).is_err() {
                data.error = Some(format!(
                    "step {i} does not replay on this build; the tree stops at step {}",
                    i - 1
                ));
                break;
            }
        }
        let mut touched: Vec<String> = Vec::new();
        for e in &s.events {
            if let Event::Changed { change } = e {
                let path = match change {
                    Change::Created { path, .. }
                    | Change::Deleted { path, .. }
                    | Change::DataChanged { path, .. } => path,
                    _ => continue,
                };
                touched.push(path.clone());
                if let Some(j) = path.rfind('/') {
                    touched.push(if j == 0 { "/".into() } else { path[..j].into() });
                }
            }
        }
        touched.sort();
        touched.dedup();
        data.deltas.push(
            touched
                .into_iter()
                .map(|p| match view(&world, &p) {
                    Some(v) => NodeViewOrGone::Node(v),
                    None => NodeViewOrGone::Gone((p,)),
                })
                .collect(),
        );
        if i % SNAPSHOT_EVERY == 0 {
            data.snaps.push(snapshot(&world));
        }
    }
    data
}

/// A reply or a loss that names no task is about its request's task, if that has one.
fn inherit_task(rows: &mut [Row], row: usize, request_row: Option<usize>) {
    let Some(task) = request_row.map(|r| rows[r].4) else {
        return;
    };
    if rows[row].4 < 0 {
        rows[row].4 = task;
    }
}

fn build(t: &Trace) -> Page {
    let names = &t.header.processes;
    let zk = names.len() as i64;
    let mut owners = Owners {
        names: names.clone(),
        by_session: BTreeMap::new(),
    };
    // Sessions are known from their opening; collect them first so every label can name them.
    for s in &t.steps {
        for e in &s.events {
            if let Event::SessionOpened {
                process, session, ..
            } = e
            {
                owners.by_session.insert(*session, *process);
            }
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut steps = Vec::new();
    let mut msgs = Vec::new();
    let mut spans = Vec::new();
    let mut tasks: Vec<String> = Vec::new();
    let mut task_ids: BTreeMap<String, i64> = BTreeMap::new();
    let mut sent: BTreeMap<(usize, i32), (usize, String)> = BTreeMap::new();
    let mut handled: BTreeMap<(usize, i32), usize> = BTreeMap::new();
    // Open lane states: (lane, state) -> first row.
    let mut open: BTreeMap<(usize, &'static str), usize> = BTreeMap::new();
    let mut master: Option<(usize, usize)> = None;
    let violations: Vec<(String, u64)> = t
        .end
        .as_ref()
        .map(|e| {
            e.violations
                .iter()
                .map(|v| (v.property.clone(), v.step))
                .collect()
        })
        .unwrap_or_default();
    for s in &t.steps {
        let first = rows.len();
        let action = s
            .action
            .as_ref()
            .map_or("start".to_string(), |a| action_label(a, names));
        steps.push((s.time_ms, action.clone(), first));
        let mut push = |rows: &mut Vec<Row>, lane: i64, kind: &'static str, label: String| {
            let task = task_key(&label).map_or(-1, |k| {
                let n = task_ids.len() as i64;
                *task_ids.entry(k.clone()).or_insert_with(|| {
                    tasks.push(k);
                    n
                })
            });
            rows.push((s.step, lane, kind, label, task));
            rows.len() - 1
        };
        let killed = matches!(s.action, Some(Action::Kill { .. }));
        for e in &s.events {
            let pl = |p: &usize| *p as i64;
            match e {
                Event::Sent {
                    process,
                    xid,
                    request,
                } => {
                    let label = render::request(request);
                    let r = push(&mut rows, pl(process), "send", label.clone());
                    sent.insert((*process, *xid), (r, label));
                }
                Event::Handled {
                    process,
                    xid,
                    reply,
                    ..
                } => {
                    let req = sent.remove(&(*process, *xid));
                    let what = req.as_ref().map_or(String::new(), |(_, l)| l.clone());
                    let who = names.get(*process).map_or("?", String::as_str);
                    let label = format!("{who} {what} -> {}", render::reply(reply));
                    let r = push(&mut rows, zk, "hand", label);
                    if let Some((from, _)) = req {
                        msgs.push((from, r, "req"));
                    }
                    handled.insert((*process, *xid), r);
                }
                Event::Changed { change } => {
                    let label = change_label(change, |s| owners.label(s));
                    let r = push(&mut rows, zk, "chg", label);
                    match change {
                        Change::Created {
                            path,
                            owner: Some(o),
                            ..
                        } if path == "/master" => {
                            if let Some(p) = owners.by_session.get(o) {
                                master = Some((*p, r));
                            }
                        }
                        Change::Deleted { path, .. } if path == "/master" => {
                            if let Some((p, from)) = master.take() {
                                spans.push((from, r, p, "master"));
                            }
                        }
                        _ => {}
                    }
                }
                Event::Replied {
                    process,
                    xid,
                    reply,
                } => {
                    let req = sent.remove(&(*process, *xid));
                    let from = handled.remove(&(*process, *xid));
                    // The server's row names the request (once handled, it is no longer
                    // among those sent).
                    let asked = from.or(req.as_ref().map(|(r, _)| *r));
                    let what = req.map_or_else(|| format!("xid {xid}"), |(_, l)| l);
                    let label = if from.is_some() {
                        format!("<- {}", render::reply(reply))
                    } else {
                        format!(
                            "{what} -> {} (from the client library)",
                            render::reply(reply)
                        )
                    };
                    let r = push(&mut rows, pl(process), "rep", label);
                    inherit_task(&mut rows, r, asked);
                    if let Some(from) = from {
                        msgs.push((from, r, "rep"));
                    }
                }
                Event::Notified { process, event } => {
                    let label = if event.kind == EventType::None {
                        format!("state {:?}", event.state)
                    } else {
                        format!("WATCH {:?} {}", event.kind, event.path)
                    };
                    push(&mut rows, pl(process), "watch", label);
                }
                Event::Lost {
                    process,
                    xid,
                    to_server,
                } => {
                    let mut asked = None;
                    let label = if *to_server {
                        asked = sent.remove(&(*process, *xid)).map(|(r, _)| r);
                        format!("request xid {xid} lost (not applied)")
                    } else if *xid == 0 {
                        "an event lost on the way back".into()
                    } else {
                        format!("reply to xid {xid} lost (applied)")
                    };
                    let r = push(&mut rows, pl(process), "lost", label);
                    if !*to_server {
                        if let Some(from) = handled.remove(&(*process, *xid)) {
                            asked = Some(from);
                            msgs.push((from, r, "lost"));
                        }
                    }
                    inherit_task(&mut rows, r, asked);
                }
                Event::TimerFired { process, timer } => {
                    push(&mut rows, pl(process), "timer", format!("timer {timer}"));
                }
                Event::Chose {
                    process,
                    choice,
                    option,
                } => {
                    push(
                        &mut rows,
                        pl(process),
                        "chose",
                        format!("choice {choice} = {option}"),
                    );
                }
                Event::Crashed { process } => {
                    let r = push(
                        &mut rows,
                        pl(process),
                        "crash",
                        if killed { "KILLED" } else { "CRASH" }.into(),
                    );
                    if let Some(from) = open.remove(&(*process, "disconnected")) {
                        spans.push((from, r, *process, "disconnected"));
                    }
                    open.insert((*process, if killed { "killed" } else { "crashed" }), r);
                }
                Event::SessionOpened {
                    process, session, ..
                } => {
                    let r = push(
                        &mut rows,
                        pl(process),
                        "sess",
                        format!("session {} opened", hex(*session)),
                    );
                    if let Some(from) = open.remove(&(*process, "crashed")) {
                        spans.push((from, r, *process, "crashed"));
                    }
                    if let Some(from) = open.remove(&(*process, "disconnected")) {
                        spans.push((from, r, *process, "disconnected"));
                    }
                }
                Event::ServerRestarted { zxid } => {
                    push(
                        &mut rows,
                        zk,
                        "crash",
                        format!("SERVER RESTART (last zxid {zxid:#x})"),
                    );
                }
                Event::Disconnected { process } => {
                    let r = push(&mut rows, pl(process), "disc", "DISCONNECTED".into());
                    open.entry((*process, "disconnected")).or_insert(r);
                }
                Event::Reconnected { process, expired } => {
                    let r = push(
                        &mut rows,
                        pl(process),
                        "recon",
                        if *expired {
                            "reconnect: session EXPIRED".into()
                        } else {
                            "reconnected, same session".into()
                        },
                    );
                    if let Some(from) = open.remove(&(*process, "disconnected")) {
                        spans.push((from, r, *process, "disconnected"));
                    }
                }
                Event::Noted {
                    process,
                    claim,
                    path,
                    repeat,
                } => {
                    push(
                        &mut rows,
                        pl(process),
                        "claim",
                        format!("{claim} {path}{}", if *repeat { " (again)" } else { "" }),
                    );
                }
                Event::Log { process, line } => {
                    push(&mut rows, pl(process), "log", line.clone());
                }
            }
        }
        if rows.len() == first {
            push(&mut rows, -1, "act", action);
        }
        for (property, _) in violations.iter().filter(|(_, at)| *at == s.step) {
            push(&mut rows, -1, "viol", format!("VIOLATED: {property}"));
        }
    }
    let end = rows.len();
    if let Some((p, from)) = master {
        spans.push((from, end, p, "master"));
    }
    for ((lane, state), from) in open {
        spans.push((from, end, lane, state));
    }
    spans.sort();
    let taken = count(t.steps_taken(), "step", "steps");
    let verdict = match &t.end {
        None => format!("{taken}; the trace has no end line"),
        Some(e) if e.violations.is_empty() => format!("{taken}, every property held"),
        Some(e) => format!(
            "{taken}, {}",
            count(e.violations.len(), "violation", "violations")
        ),
    };
    let mut lanes = names.clone();
    lanes.push("zk".into());
    Page {
        title: format!(
            "{} seed {}{}",
            t.header.recipe,
            t.header.seed,
            if t.header.swarm { " (swarm)" } else { "" }
        ),
        recipe: t.header.recipe.clone(),
        seed: t.header.seed,
        lanes,
        steps_taken: t.steps_taken(),
        steps,
        rows,
        msgs,
        spans,
        tasks,
        violations,
        tree: tree_data(t, &owners),
        verdict,
    }
}

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page for a trace: one self-contained HTML document (no network fetches).
pub fn page(t: &Trace) -> String {
    let page = build(t);
    // `<` never appears raw inside the script element, so no `</script>` can end it early.
    let json = serde_json::to_string(&page)
        .expect("serializable")
        .replace('<', "\\u003c");
    let title = escape(&format!("zksim: {}", page.title));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <script id=\"trace-data\" type=\"application/json\">{json}</script>\n\
         <script>\n{JS}</script>\n</body>\n</html>\n"
    )
}
