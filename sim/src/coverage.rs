//! Coverage: which protocol points runs reached, and which of them had a fault right after.
//!
//! A protocol point is a process's write as the server handled it: the process and the write,
//! an operation (`create`, `delete`, `set`, `multi`) and its path, each part of the path that
//! holds a digit read as `*` (a sequence number, a client's task token, a worker's name), so
//! a point is the same from run to run: `m1 create /master`, `w1 create /workers/*`, `c1
//! multi [create /tasks/*, create /clients/*]` (a multi is named by all its operations). A
//! fault right after a point is a disconnect, crash or kill of that process in the very next
//! step, whatever chose it (`--write-fault-per-mille`, which places faults at these points,
//! or the fault rate that may strike anywhere): the write applied and its reply lost, or the
//! process gone between two writes of one recipe step. A point never faulted after in a range
//! is a ConnectionLoss or a crash there that the range did not test.
//!
//! A notification point is the other kind `--notify-fault-per-mille` aims at: the server
//! queued a watch notification to a process (a watched node created, changed or deleted),
//! named by the process, the event type and the path read the same way (`m2 NodeDeleted
//! /master`, `m1 NodeChildrenChanged /workers`). A fault right after one is a fault of that
//! process in the very next step, the notification still on its way: a disconnect loses it
//! (the client hears what changed when it re-sets its watches), a crash or kill loses the
//! process's reaction to it.
//!
//! (`--write-fault-per-mille` activates sites a little finer than these points: a path
//! keeps its parts and loses only its trailing sequence number, and a multi goes by its
//! first operation's path.)
//!
//! ```
//! use zksim_sim::coverage::Coverage;
//! use zksim_sim::options::Options;
//! use zksim_sim::{recipes, run};
//!
//! let recipe = recipes::find("election").unwrap();
//! let options = Options { write_fault_per_mille: 500, ..Options::default() };
//! let mut coverage = Coverage::default();
//! for seed in 0..40 {
//!     let outcome = run::simulate_covered(&recipe, &options, seed, false).unwrap();
//!     coverage.add(&outcome.coverage);
//! }
//! let (site, counts) = coverage
//!     .points
//!     .iter()
//!     .find(|(site, _)| site.process == "c1" && site.write.starts_with("create "))
//!     .unwrap();
//! assert_eq!(site.write, "create /master");
//! assert_eq!(counts.written, 40); // in each run c1 runs for master
//! assert!(counts.faulted > 0 && counts.faulted < 40);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zksim_model::op::{EventType, Request, WatchedEvent};
use zksim_model::role::Role;
use zksim_model::server::ToClient;

use crate::action::{Action, ProcessId};
use crate::event::Event;
use crate::world::World;

/// A protocol point: a process's write, by operation and path pattern.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The process, by name (`m1`).
    pub process: String,
    /// The write: `create /master`, `delete /assign/*/*`, `multi [check /epoch, create
    /// /assign/*/*, delete /tasks/*]` (see [`describe`]).
    pub write: String,
}

/// Which faults of the process came right after a point in one run (at any of its visits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultsAfter {
    /// Its connection dropped.
    pub disconnect: bool,
    /// It crashed.
    pub crash: bool,
    /// It was killed for good.
    pub kill: bool,
}

impl FaultsAfter {
    /// Whether any fault came.
    pub fn any(&self) -> bool {
        self.disconnect || self.crash || self.kill
    }
}

/// What one run reached: each point the server handled a write at, and each notification
/// point, with the faults that came right after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunCoverage {
    /// The points, in the order the run first reached them.
    pub points: Vec<(Site, FaultsAfter)>,
    /// The notification points (a [`Site`] whose `write` is the event type and path), in
    /// the order the run first reached them.
    pub notices: Vec<(Site, FaultsAfter)>,
}

/// For one point, in how many runs of a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// The server handled the write (for a notification point: queued the notification).
    pub written: u64,
    /// A fault of the process came right after it (any kind).
    pub faulted: u64,
    /// Its connection dropped right after it.
    pub disconnected: u64,
    /// It crashed right after it.
    pub crashed: u64,
    /// It was killed right after it.
    pub killed: u64,
}

/// What a range of runs reached: for each point, in how many runs it was written and had a
/// fault right after it. Written by `--json` as a list of points in site order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "CoverageJson", try_from = "CoverageJson")]
pub struct Coverage {
    /// The points, by site.
    pub points: BTreeMap<Site, Counts>,
    /// The notification points, by site (`write` is the event type and path).
    pub notices: BTreeMap<Site, Counts>,
}

/// Adds one run's points of a kind to a range's.
fn add_points(total: &mut BTreeMap<Site, Counts>, run: &[(Site, FaultsAfter)]) {
    for (site, after) in run {
        // Looked up before inserting: a site is cloned once a range, not once a run.
        if !total.contains_key(site) {
            total.insert(site.clone(), Counts::default());
        }
        let counts = total.get_mut(site).expect("inserted above");
        counts.written += 1;
        counts.faulted += u64::from(after.any());
        counts.disconnected += u64::from(after.disconnect);
        counts.crashed += u64::from(after.crash);
        counts.killed += u64::from(after.kill);
    }
}

/// Adds another range's points of a kind; `None` if a count would overflow.
fn merge_points(total: &mut BTreeMap<Site, Counts>, other: BTreeMap<Site, Counts>) -> Option<()> {
    for (site, c) in other {
        let total = total.entry(site).or_default();
        total.written = total.written.checked_add(c.written)?;
        total.faulted = total.faulted.checked_add(c.faulted)?;
        total.disconnected = total.disconnected.checked_add(c.disconnected)?;
        total.crashed = total.crashed.checked_add(c.crashed)?;
        total.killed = total.killed.checked_add(c.killed)?;
    }
    Some(())
}

impl Coverage {
    /// Adds one run.
    pub fn add(&mut self, run: &RunCoverage) {
        add_points(&mut self.points, &run.points);
        add_points(&mut self.notices, &run.notices);
    }

    /// Adds another range's runs; `None` if a count would overflow (only an edited file's do).
    pub fn merge(&mut self, other: Coverage) -> Option<()> {
        merge_points(&mut self.points, other.points)?;
        merge_points(&mut self.notices, other.notices)
    }

    /// How many points had a fault right after them in some run.
    pub fn faulted(&self) -> usize {
        self.points.values().filter(|c| c.faulted > 0).count()
    }

    /// How many notification points had a fault right after them in some run.
    pub fn notices_faulted(&self) -> usize {
        self.notices.values().filter(|c| c.faulted > 0).count()
    }
}

/// A point as `--json` writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointJson {
    process: String,
    write: String,
    written: u64,
    faulted: u64,
    disconnected: u64,
    crashed: u64,
    killed: u64,
}

/// A notification point as `--json` writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeJson {
    process: String,
    event: String,
    queued: u64,
    faulted: u64,
    disconnected: u64,
    crashed: u64,
    killed: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverageJson {
    points: Vec<PointJson>,
    /// Absent in the summaries of builds before notification points were counted.
    #[serde(default)]
    notices: Vec<NoticeJson>,
}

impl From<Coverage> for CoverageJson {
    fn from(c: Coverage) -> Self {
        CoverageJson {
            points: c
                .points
                .into_iter()
                .map(|(s, n)| PointJson {
                    process: s.process,
                    write: s.write,
                    written: n.written,
                    faulted: n.faulted,
                    disconnected: n.disconnected,
                    crashed: n.crashed,
                    killed: n.killed,
                })
                .collect(),
            notices: c
                .notices
                .into_iter()
                .map(|(s, n)| NoticeJson {
                    process: s.process,
                    event: s.write,
                    queued: n.written,
                    faulted: n.faulted,
                    disconnected: n.disconnected,
                    crashed: n.crashed,
                    killed: n.killed,
                })
                .collect(),
        }
    }
}

impl TryFrom<CoverageJson> for Coverage {
    type Error = String;

    /// Refuses a point listed twice, out of site order, or with counts that cannot be (more
    /// runs faulted than written, a kind in more runs than any fault, or any fault in more
    /// runs than the kinds together).
    fn try_from(j: CoverageJson) -> Result<Self, String> {
        let points = checked_points(
            "coverage point",
            "written",
            j.points.into_iter().map(|p| {
                let site = Site {
                    process: p.process,
                    write: p.write,
                };
                (
                    site,
                    [p.written, p.faulted, p.disconnected, p.crashed, p.killed],
                )
            }),
        )?;
        let notices = checked_points(
            "coverage notice",
            "queued",
            j.notices.into_iter().map(|p| {
                let site = Site {
                    process: p.process,
                    write: p.event,
                };
                (
                    site,
                    [p.queued, p.faulted, p.disconnected, p.crashed, p.killed],
                )
            }),
        )?;
        Ok(Coverage { points, notices })
    }
}

/// The points of a kind as read from `--json` (each with its counts: reached, faulted,
/// disconnected, crashed, killed), refused when listed twice, out of site order, or with
/// counts that cannot be.
fn checked_points(
    what: &str,
    reached: &str,
    listed: impl Iterator<Item = (Site, [u64; 5])>,
) -> Result<BTreeMap<Site, Counts>, String> {
    let mut points = BTreeMap::new();
    for (site, [written, faulted, disconnected, crashed, killed]) in listed {
        let named = format!("{what} {} {}", site.process, site.write);
        let kinds = [disconnected, crashed, killed];
        let kinds_max = kinds.into_iter().max().unwrap_or(0);
        let kinds_sum = kinds.into_iter().fold(0u64, u64::saturating_add);
        if faulted > written || kinds_max > faulted || faulted > kinds_sum {
            return Err(format!(
                "{named}: {reached} {written}, faulted {faulted}, disconnected {disconnected}, \
                 crashed {crashed}, killed {killed}: these counts of runs cannot be one range's"
            ));
        }
        if points
            .last_key_value()
            .is_some_and(|(last, _)| *last >= site)
        {
            return Err(format!(
                "{named}: listed out of order or twice (points are listed once each, by \
                 process and {what_of})",
                what_of = if reached == "queued" {
                    "event"
                } else {
                    "write"
                }
            ));
        }
        let counts = Counts {
            written,
            faulted,
            disconnected,
            crashed,
            killed,
        };
        points.insert(site, counts);
    }
    Ok(points)
}

/// Writes into `out` the protocol point `request` is, without its process (`create /master`,
/// `multi [create /tasks/*, create /clients/*]`: see [`Site::write`]); `false` (and `out`
/// left empty) for a read.
pub fn describe(request: &Request, out: &mut String) -> bool {
    out.clear();
    match request {
        Request::Create { .. } | Request::Delete { .. } | Request::SetData { .. } => {
            operation(request, out);
        }
        Request::Multi { ops } => {
            out.push_str("multi [");
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operation(op, out);
            }
            out.push(']');
        }
        _ => return false,
    }
    true
}

/// `create /tasks/*`: the operation's name and its path, each part holding a digit as `*`.
fn operation(request: &Request, out: &mut String) {
    out.push_str(request.name());
    let Some(path) = request.path() else {
        return;
    };
    out.push(' ');
    push_path(path, out);
}

/// A notification point without its process: the event type and the path, each part
/// holding a digit as `*` (`NodeChildrenChanged /assign/*`).
pub fn describe_notice(event: &WatchedEvent, out: &mut String) {
    out.clear();
    out.push_str(match event.kind {
        EventType::None => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
        EventType::DataWatchRemoved => "DataWatchRemoved",
        EventType::ChildWatchRemoved => "ChildWatchRemoved",
        EventType::PersistentWatchRemoved => "PersistentWatchRemoved",
    });
    out.push(' ');
    push_path(&event.path, out);
}

/// A path with each part holding a digit as `*`.
fn push_path(path: &str, out: &mut String) {
    for (i, part) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if part.contains(|c: char| c.is_ascii_digit()) {
            out.push('*');
        } else {
            out.push_str(part);
        }
    }
}

/// A write's site as `--write-fault-per-mille` activates it, without its process: the
/// operation and the path without its trailing sequence number (a multi's first operation's);
/// `None` for a read.
pub(crate) fn write_point(request: &Request) -> Option<(&'static str, &str)> {
    let (op, path) = match request {
        Request::Create { path, .. } => ("create", path.as_str()),
        Request::Delete { path, .. } => ("delete", path.as_str()),
        Request::SetData { path, .. } => ("set", path.as_str()),
        Request::Multi { ops } => ("multi", ops.first().and_then(Request::path).unwrap_or("")),
        _ => return None,
    };
    Some((op, path.trim_end_matches(|c: char| c.is_ascii_digit())))
}

/// A point of one run while it runs.
struct Seen {
    process: ProcessId,
    write: String,
    written: bool,
    after: FaultsAfter,
}

/// Follows a run's steps for its [`RunCoverage`]: the writes sent, the one the server just
/// handled, and the fault (if any) the next step brings that process.
#[derive(Default)]
pub(crate) struct Tracker {
    seen: Vec<Seen>,
    /// Writes sent and not yet handled, by (process, xid): their index in `seen`.
    writes: BTreeMap<(ProcessId, i32), usize>,
    /// The write the server handled in the last step: its process and index in `seen`.
    after: Option<(ProcessId, usize)>,
    /// The description of the request at hand (one buffer for the run).
    buffer: String,
    /// The notification points (their `write` is the event type and path).
    notices: Vec<Seen>,
    /// The length of each process's link from the server after the last step.
    links: Vec<usize>,
    /// The notifications the last step queued: each process and its index in `notices`.
    after_notices: Vec<(ProcessId, usize)>,
}

impl Tracker {
    /// Sees the action of the next step, before it is taken.
    pub(crate) fn action(&mut self, action: &Action) {
        if let Some((p, i)) = self.after.take() {
            fault_after(&mut self.seen[i].after, p, action);
        }
        for (p, i) in self.after_notices.drain(..) {
            fault_after(&mut self.notices[i].after, p, action);
        }
    }

    /// Sees the notifications a step queued (the start's too): the frames past each
    /// process's link length after the step before. Only a step that committed a change or
    /// reconnected a client queues any, so only those look.
    pub(crate) fn observe_links<R: Role>(&mut self, world: &World<R>, events: &[Event]) {
        let processes = world.processes();
        self.links.resize(processes.len(), 0);
        let queues = events
            .iter()
            .any(|e| matches!(e, Event::Changed { .. } | Event::Reconnected { .. }));
        for (p, process) in processes.iter().enumerate() {
            let before = std::mem::replace(&mut self.links[p], process.to_client().len());
            if !queues {
                continue;
            }
            for frame in process.to_client().skip(before) {
                let ToClient::Event { event } = frame else {
                    continue;
                };
                if event.kind == EventType::None {
                    continue;
                }
                let mut notice = std::mem::take(&mut self.buffer);
                describe_notice(event, &mut notice);
                let i = index_of(&mut self.notices, p, &notice);
                self.buffer = notice;
                self.notices[i].written = true;
                if !self.after_notices.contains(&(p, i)) {
                    self.after_notices.push((p, i));
                }
            }
        }
    }

    /// Sees a step's events (the start's too).
    pub(crate) fn observe(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Sent {
                    process,
                    xid,
                    request,
                } => {
                    let mut write = std::mem::take(&mut self.buffer);
                    if describe(request, &mut write) {
                        let i = self.index(*process, &write);
                        self.writes.insert((*process, *xid), i);
                    }
                    self.buffer = write;
                }
                Event::Handled { process, xid, .. } => {
                    if let Some(i) = self.writes.remove(&(*process, *xid)) {
                        self.seen[i].written = true;
                        self.after = Some((*process, i));
                    }
                }
                Event::Lost { process, xid, .. } => {
                    self.writes.remove(&(*process, *xid));
                }
                _ => {}
            }
        }
    }

    /// The index in `seen` of a point, added if new.
    fn index(&mut self, process: ProcessId, write: &str) -> usize {
        index_of(&mut self.seen, process, write)
    }

    /// The run's coverage, processes named by `names` (by process id).
    pub(crate) fn finish(self, names: &[String]) -> RunCoverage {
        let named = |seen: Vec<Seen>| {
            seen.into_iter()
                .filter(|s| s.written)
                .map(|s| {
                    let site = Site {
                        process: names
                            .get(s.process)
                            .cloned()
                            .unwrap_or_else(|| s.process.to_string()),
                        write: s.write,
                    };
                    (site, s.after)
                })
                .collect()
        };
        RunCoverage {
            points: named(self.seen),
            notices: named(self.notices),
        }
    }
}

/// Marks a fault of `p` in `action` as right after a point of `p`.
fn fault_after(after: &mut FaultsAfter, p: ProcessId, action: &Action) {
    match *action {
        Action::Disconnect { process } if process == p => after.disconnect = true,
        Action::Crash { process } if process == p => after.crash = true,
        Action::Kill { process } if process == p => after.kill = true,
        _ => {}
    }
}

/// The index in `seen` of a point, added if new (a run has a few dozen: a scan is cheaper
/// than a map keyed by strings).
fn index_of(seen: &mut Vec<Seen>, process: ProcessId, write: &str) -> usize {
    let found = seen
        .iter()
        .position(|s| s.process == process && s.write == write);
    found.unwrap_or_else(|| {
        seen.push(Seen {
            process,
            write: write.to_string(),
            written: false,
            after: FaultsAfter::default(),
        });
        seen.len() - 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zksim_model::data::Data;
    use zksim_model::error::ErrorCode;
    use zksim_model::op::{Acl, CreateMode};

    fn create(path: &str) -> Request {
        Request::Create {
            path: path.into(),
            data: Data::from(""),
            acl: Acl::open(),
            mode: CreateMode::PersistentSequential,
            ttl_ms: None,
            stat: false,
        }
    }

    fn described(r: &Request) -> Option<String> {
        let mut out = String::from("left over");
        describe(r, &mut out).then_some(out)
    }

    // A point's path reads each part that holds a digit as `*`; a multi is named by all its
    // operations; a read is no point.
    #[test]
    fn a_point_is_its_operation_and_path_with_numbered_parts_as_stars() {
        assert_eq!(
            described(&create("/tasks/task-c1.4-1-")).as_deref(),
            Some("create /tasks/*")
        );
        assert_eq!(
            described(&create("/master")).as_deref(),
            Some("create /master")
        );
        assert_eq!(described(&create("/")).as_deref(), Some("create /"));
        assert_eq!(described(&create("a1/b")).as_deref(), Some("create */b"));
        let multi = Request::Multi {
            ops: vec![
                Request::Check {
                    path: "/epoch".into(),
                    version: 3,
                },
                create("/assign/w1/task-c2.5-1-0000000004"),
                Request::Delete {
                    path: "/tasks/task-c2.5-1-0000000004".into(),
                    version: -1,
                },
            ],
        };
        assert_eq!(
            described(&multi).as_deref(),
            Some("multi [check /epoch, create /assign/*/*, delete /tasks/*]")
        );
        let read = Request::GetData {
            path: "/master".into(),
            watch: true,
        };
        assert_eq!(described(&read), None);
    }

    // A write counts as reached once the server handled it (not when it was sent and lost),
    // and a fault of its process in the very next step, not later and not another's, counts
    // as right after it.
    #[test]
    fn a_fault_counts_only_in_the_step_right_after_the_write_and_of_its_process() {
        let names = ["m1".to_string(), "m2".to_string()];
        let sent = |process, xid, request| Event::Sent {
            process,
            xid,
            request,
        };
        let handled = |process, xid| Event::Handled {
            process,
            xid,
            zxid: 1,
            reply: Err(ErrorCode::NodeExists),
        };
        let mut t = Tracker::default();
        t.observe(&[
            sent(0, 1, create("/master")),
            sent(1, 1, create("/master")),
            sent(1, 2, create("/epoch")),
        ]);
        t.action(&Action::ToServer { process: 0 });
        t.observe(&[handled(0, 1)]);
        // Another process's fault right after m1's write is not m1's.
        t.action(&Action::Crash { process: 1 });
        t.observe(&[Event::Lost {
            process: 1,
            xid: 2,
            to_server: true,
        }]);
        t.action(&Action::ToServer { process: 1 });
        t.observe(&[handled(1, 1)]);
        t.action(&Action::Advance { ms: 5 });
        t.observe(&[]);
        // Too late: a step came between.
        t.action(&Action::Disconnect { process: 1 });
        let run = t.finish(&names);
        let site = |p: &str, w: &str| Site {
            process: p.into(),
            write: w.into(),
        };
        assert_eq!(
            run.points,
            vec![
                (site("m1", "create /master"), FaultsAfter::default()),
                (site("m2", "create /master"), FaultsAfter::default()),
            ],
            "m2's /epoch was lost before the server took it"
        );
        let mut t = Tracker::default();
        t.observe(&[sent(1, 7, create("/master"))]);
        t.action(&Action::ToServer { process: 1 });
        t.observe(&[handled(1, 7)]);
        t.action(&Action::Kill { process: 1 });
        let run = t.finish(&names);
        let killed = FaultsAfter {
            kill: true,
            ..FaultsAfter::default()
        };
        assert_eq!(run.points, vec![(site("m2", "create /master"), killed)]);
        let mut total = Coverage::default();
        total.add(&run);
        total.add(&run);
        let c = total.points[&site("m2", "create /master")];
        assert_eq!((c.written, c.faulted, c.killed, c.crashed), (2, 2, 2, 0));
    }
}
