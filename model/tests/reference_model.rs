//! Random operation sequences from several sessions, run on the server model and on a
//! deliberately simple reference written straight from the semantics tables (a flat map of
//! paths, children found by scanning, multi by copying the whole map). Every reply, every Stat
//! field and every session's event stream must agree.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use zksim_model::children::ChildOrder;
use zksim_model::op::{Acl, CreateMode, EventType, OpResult, Request, Response, WatchedEvent};
use zksim_model::server::{Server, ServerConfig, ToClient};
use zksim_model::{Data, ErrorCode, Reply, SessionId, Stat};

#[derive(Clone, Debug)]
struct RNode {
    data: Vec<u8>,
    version: i32,
    creates: i32,
    owner: Option<usize>,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
}

/// The reference server: sessions are indexes 0..N.
#[derive(Clone, Debug)]
struct Reference {
    nodes: BTreeMap<String, RNode>,
    zxid: i64,
    closed: BTreeSet<usize>,
    data_watches: BTreeSet<(String, usize)>,
    child_watches: BTreeSet<(String, usize)>,
    events: BTreeMap<usize, Vec<WatchedEvent>>,
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].into(),
        None => unreachable!(),
    }
}

impl Reference {
    fn new() -> Self {
        let mut nodes = BTreeMap::new();
        let node = |creates| RNode {
            data: vec![],
            version: 0,
            creates,
            owner: None,
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
        };
        nodes.insert("/".to_string(), node(0));
        nodes.insert("/zookeeper".to_string(), node(0));
        nodes.insert("/zookeeper/quota".to_string(), node(0));
        nodes.insert("/zookeeper/config".to_string(), node(0));
        Reference {
            nodes,
            zxid: 0,
            closed: BTreeSet::new(),
            data_watches: BTreeSet::new(),
            child_watches: BTreeSet::new(),
            events: BTreeMap::new(),
        }
    }

    fn children(&self, p: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|k| *k != "/" && parent(k) == p)
            .map(|k| k[k.rfind('/').unwrap() + 1..].to_string())
            .collect()
    }

    fn stat(&self, p: &str, sids: &[SessionId]) -> Stat {
        let n = &self.nodes[p];
        let kids = self.children(p).len() as i32;
        Stat {
            czxid: n.czxid,
            mzxid: n.mzxid,
            ctime: 0,
            mtime: 0,
            version: n.version,
            cversion: 2 * n.creates - kids,
            aversion: if p == "/zookeeper/config" { -1 } else { 0 },
            ephemeral_owner: n.owner.map_or(0, |s| sids[s]),
            data_length: n.data.len() as i32,
            num_children: kids,
            pzxid: n.pzxid,
        }
    }

    fn notify(
        &mut self,
        watches: Watches,
        p: &str,
        kind: EventType,
        already: &BTreeSet<usize>,
    ) -> BTreeSet<usize> {
        let table = match watches {
            Watches::Data => &mut self.data_watches,
            Watches::Child => &mut self.child_watches,
        };
        let fired: BTreeSet<usize> = table
            .iter()
            .filter(|(q, _)| q == p)
            .map(|(_, s)| *s)
            .collect();
        table.retain(|(q, _)| q != p);
        for s in &fired {
            if !already.contains(s) {
                self.events
                    .entry(*s)
                    .or_default()
                    .push(WatchedEvent::node(kind, p));
            }
        }
        fired
    }

    /// One write op on `self` (already a scratch copy for multi); returns the op result.
    fn op(
        &mut self,
        s: usize,
        op: &Op,
        sids: &[SessionId],
        fire: &mut Vec<(String, Change)>,
    ) -> Result<OpResult, ErrorCode> {
        let zxid = self.zxid;
        match op {
            Op::Create { path, mode } => {
                let par = parent(path);
                let Some(pn) = self.nodes.get(&par) else {
                    return Err(ErrorCode::NoNode);
                };
                let full = if mode.is_sequential() {
                    format!("{path}{:010}", pn.creates)
                } else {
                    path.clone()
                };
                if self.nodes.contains_key(&full) {
                    return Err(ErrorCode::NodeExists);
                }
                if pn.owner.is_some() {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let pn = self.nodes.get_mut(&par).unwrap();
                pn.creates += 1;
                pn.pzxid = zxid;
                let owner = mode.is_ephemeral().then_some(s);
                self.nodes.insert(
                    full.clone(),
                    RNode {
                        data: b"d".to_vec(),
                        version: 0,
                        creates: 0,
                        owner,
                        czxid: zxid,
                        mzxid: zxid,
                        pzxid: zxid,
                    },
                );
                fire.push((full.clone(), Change::Created));
                Ok(OpResult::Create {
                    path: full,
                    stat: None,
                })
            }
            Op::Delete { path, version } => {
                if ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
                    .contains(&path.as_str())
                {
                    return Err(ErrorCode::BadArguments);
                }
                if !self.nodes.contains_key(&parent(path)) {
                    return Err(ErrorCode::NoNode);
                }
                let Some(n) = self.nodes.get(path) else {
                    return Err(ErrorCode::NoNode);
                };
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.nodes.remove(path);
                let pn = self.nodes.get_mut(&parent(path)).unwrap();
                pn.pzxid = pn.pzxid.max(zxid);
                fire.push((path.clone(), Change::Deleted));
                Ok(OpResult::Delete)
            }
            Op::SetData { path, version } => {
                if path == "/zookeeper/config" {
                    return Err(ErrorCode::NoAuth);
                }
                let Some(n) = self.nodes.get_mut(path) else {
                    return Err(ErrorCode::NoNode);
                };
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.version += 1;
                n.mzxid = zxid;
                n.data = b"set".to_vec();
                fire.push((path.clone(), Change::DataChanged));
                Ok(OpResult::SetData {
                    stat: self.stat(path, sids),
                })
            }
            Op::Check { path, version } => {
                let Some(n) = self.nodes.get(path) else {
                    return Err(ErrorCode::NoNode);
                };
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                Ok(OpResult::Check)
            }
            _ => unreachable!(),
        }
    }

    fn fire(&mut self, changes: Vec<(String, Change)>) {
        let none = BTreeSet::new();
        for (p, change) in changes {
            match change {
                Change::Created => {
                    self.notify(Watches::Data, &p, EventType::NodeCreated, &none);
                    self.notify(
                        Watches::Child,
                        &parent(&p),
                        EventType::NodeChildrenChanged,
                        &none,
                    );
                }
                Change::Deleted => {
                    let got = self.notify(Watches::Data, &p, EventType::NodeDeleted, &none);
                    self.notify(Watches::Child, &p, EventType::NodeDeleted, &got);
                    self.notify(
                        Watches::Child,
                        &parent(&p),
                        EventType::NodeChildrenChanged,
                        &none,
                    );
                }
                Change::DataChanged => {
                    self.notify(Watches::Data, &p, EventType::NodeDataChanged, &none);
                }
            }
        }
    }

    fn apply(&mut self, s: usize, op: &Op, sids: &[SessionId]) -> Reply {
        if self.closed.contains(&s) {
            return Err(ErrorCode::SessionExpired);
        }
        match op {
            Op::Exists { path, watch } => {
                if *watch {
                    self.data_watches.insert((path.clone(), s));
                }
                if self.nodes.contains_key(path) {
                    Ok(Response::Stat {
                        stat: self.stat(path, sids),
                    })
                } else {
                    Err(ErrorCode::NoNode)
                }
            }
            Op::GetData { path, watch } => {
                let Some(n) = self.nodes.get(path) else {
                    return Err(ErrorCode::NoNode);
                };
                let data = Data::bytes(n.data.clone());
                if *watch {
                    self.data_watches.insert((path.clone(), s));
                }
                Ok(Response::Data {
                    data,
                    stat: self.stat(path, sids),
                })
            }
            Op::GetChildren { path, watch } => {
                if !self.nodes.contains_key(path) {
                    return Err(ErrorCode::NoNode);
                }
                if *watch {
                    self.child_watches.insert((path.clone(), s));
                }
                Ok(Response::Children {
                    children: self.children(path),
                    stat: Some(self.stat(path, sids)),
                })
            }
            Op::Close => {
                self.zxid += 1;
                let mine: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.owner == Some(s))
                    .map(|(p, _)| p.clone())
                    .collect();
                let mut changes = Vec::new();
                for p in mine {
                    let mut scratch = Vec::new();
                    self.op(
                        s,
                        &Op::Delete {
                            path: p,
                            version: -1,
                        },
                        sids,
                        &mut scratch,
                    )
                    .unwrap();
                    changes.extend(scratch);
                }
                self.fire(changes);
                self.closed.insert(s);
                self.data_watches.retain(|(_, w)| *w != s);
                self.child_watches.retain(|(_, w)| *w != s);
                Ok(Response::Empty)
            }
            Op::Multi(ops) => {
                self.zxid += 1;
                let mut scratch = self.clone();
                let mut results = Vec::new();
                let mut changes = Vec::new();
                for (i, op) in ops.iter().enumerate() {
                    match scratch.op(s, op, sids, &mut changes) {
                        Ok(r) => results.push(r),
                        Err(code) => {
                            let mut r = vec![
                                OpResult::Error {
                                    code: ErrorCode::Ok
                                };
                                i
                            ];
                            r.push(OpResult::Error { code });
                            r.resize(
                                ops.len(),
                                OpResult::Error {
                                    code: ErrorCode::RuntimeInconsistency,
                                },
                            );
                            return Ok(Response::Multi { results: r });
                        }
                    }
                }
                self.nodes = scratch.nodes;
                self.fire(changes);
                Ok(Response::Multi { results })
            }
            write => {
                self.zxid += 1;
                let mut changes = Vec::new();
                let r = self.op(s, write, sids, &mut changes);
                self.fire(changes);
                r.map(|r| match r {
                    OpResult::Create { path, .. } => Response::Create { path, stat: None },
                    OpResult::SetData { stat } => Response::Stat { stat },
                    _ => Response::Empty,
                })
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Watches {
    Data,
    Child,
}

#[derive(Clone, Copy, Debug)]
enum Change {
    Created,
    Deleted,
    DataChanged,
}

#[derive(Clone, Debug)]
enum Op {
    Create { path: String, mode: CreateMode },
    Delete { path: String, version: i32 },
    SetData { path: String, version: i32 },
    Check { path: String, version: i32 },
    Exists { path: String, watch: bool },
    GetData { path: String, watch: bool },
    GetChildren { path: String, watch: bool },
    Multi(Vec<Op>),
    Close,
}

impl Op {
    fn request(&self) -> Request {
        match self.clone() {
            Op::Create { path, mode } => Request::Create {
                path,
                data: "d".into(),
                acl: Acl::open(),
                mode,
                ttl_ms: None,
                stat: false,
            },
            Op::Delete { path, version } => Request::Delete { path, version },
            Op::SetData { path, version } => Request::SetData {
                path,
                data: "set".into(),
                version,
            },
            Op::Check { path, version } => Request::Check { path, version },
            Op::Exists { path, watch } => Request::Exists { path, watch },
            Op::GetData { path, watch } => Request::GetData { path, watch },
            Op::GetChildren { path, watch } => Request::GetChildren {
                path,
                watch,
                stat: true,
            },
            Op::Multi(ops) => Request::Multi {
                ops: ops.iter().map(Op::request).collect(),
            },
            Op::Close => unreachable!(),
        }
    }
}

fn path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a",
        "/b",
        "/a/x",
        "/a/y",
        "/b/x",
        "/a/x/z",
        "/zookeeper",
        "/zookeeper/config",
        "/",
    ])
    .prop_map(String::from)
}

fn write_op() -> impl Strategy<Value = Op> {
    let mode = prop::sample::select(vec![
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
    ]);
    let version = prop::sample::select(vec![-1, 0, 1]);
    prop_oneof![
        (path(), mode).prop_map(|(path, mode)| Op::Create { path, mode }),
        (path(), version.clone()).prop_map(|(path, version)| Op::Delete { path, version }),
        (path(), version.clone()).prop_map(|(path, version)| Op::SetData { path, version }),
        (path(), version).prop_map(|(path, version)| Op::Check { path, version }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => write_op().prop_filter("check only in multi", |o| !matches!(o, Op::Check { .. })),
        1 => (path(), any::<bool>()).prop_map(|(path, watch)| Op::Exists { path, watch }),
        1 => (path(), any::<bool>()).prop_map(|(path, watch)| Op::GetData { path, watch }),
        1 => (path(), any::<bool>()).prop_map(|(path, watch)| Op::GetChildren { path, watch }),
        1 => prop::collection::vec(write_op(), 0..4).prop_map(Op::Multi),
        1 => Just(Op::Close),
    ]
}

fn normalize(reply: Reply) -> Reply {
    let n = |s: Stat| Stat {
        ctime: 0,
        mtime: 0,
        ..s
    };
    reply.map(|r| match r {
        Response::Stat { stat } => Response::Stat { stat: n(stat) },
        Response::Data { data, stat } => Response::Data {
            data,
            stat: n(stat),
        },
        Response::Children { mut children, stat } => {
            children.sort();
            Response::Children {
                children,
                stat: stat.map(n),
            }
        }
        Response::Multi { results } => Response::Multi {
            results: results
                .into_iter()
                .map(|r| match r {
                    OpResult::SetData { stat } => OpResult::SetData { stat: n(stat) },
                    r => r,
                })
                .collect(),
        },
        r => r,
    })
}

const SESSIONS: usize = 3;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // Goal: the server model and the reference agree on every reply, Stat and event stream.
    #[test]
    fn server_model_agrees_with_the_reference(steps in prop::collection::vec((0..SESSIONS, op()), 1..40)) {
        let config = ServerConfig { child_order: ChildOrder::Sorted, ..ServerConfig::default() };
        let mut server = Server::new(config);
        let sids: Vec<SessionId> = (0..SESSIONS).map(|_| server.connect(0, 30_000).0).collect();
        let mut reference = Reference::new();
        reference.zxid = SESSIONS as i64;
        for (i, (s, op)) in steps.iter().enumerate() {
            let mut model_events: BTreeMap<usize, Vec<WatchedEvent>> = BTreeMap::new();
            reference.events.clear();
            let frames = match op {
                Op::Close => server.close(sids[*s], i as i32),
                _ => server.handle(0, sids[*s], i as i32, &op.request()),
            };
            let mut model_reply = None;
            for f in frames {
                let who = sids.iter().position(|x| *x == f.session).unwrap();
                match f.message {
                    ToClient::Event { event } => model_events.entry(who).or_default().push(event),
                    ToClient::Reply { reply, .. } => model_reply = Some(reply),
                    ToClient::Drop => panic!("unexpected drop"),
                }
            }
            let expected = reference.apply(*s, op, &sids);
            prop_assert_eq!(normalize(model_reply.unwrap()), normalize(expected), "step {}: session {} {:?}", i, s, op);
            if matches!(op, Op::Close) {
                // The reference deletes a closing session's ephemerals in path order; the
                // server in ZooKeeper's hash order (pinned by the conformance transcripts).
                // Here only the events themselves must agree.
                for events in model_events.values_mut().chain(reference.events.values_mut()) {
                    events.sort();
                }
            }
            prop_assert_eq!(&model_events, &reference.events, "events of step {}", i);
            prop_assert_eq!(server.last_zxid(), reference.zxid, "zxid after step {}", i);
        }
    }
}
