//! ZooKeeper's wire encoding (jute), written by hand for the recorder.
//!
//! Why hand-written rather than a client library such as the `zookeeper-client` crate: the
//! recorder must be a faithful probe of the *server*.
//! - It sends every request exactly as scripted: invalid paths (`""`, `/a/`, `//`, NUL, ...),
//!   odd versions, TTLs with the wrong mode. A client library validates or rewrites these
//!   before sending, and then what gets recorded is the library, not the server.
//! - It sees the raw result codes, including the per-op results of a failed multi
//!   (`ErrorResult` with code 0 for rolled-back ops) and `exists` on a missing node as
//!   `NoNode` (-101) rather than a mapped `None`.
//! - It sees the exact order of frames on one connection (notifications vs replies), which is
//!   what `before_reply` records.
//! - It can send a packet over `jute.maxbuffer` and observe the server dropping the connection.
//!
//! Encoding (`org.apache.jute.BinaryOutputArchive`): big-endian `int` (4 bytes) and `long`
//! (8), `boolean` as one byte, `buffer` and `ustring` as an `int` length then the bytes (length
//! -1 for null), `vector` as an `int` count then the items (-1 for null). Every packet on the
//! TCP stream is framed by a 4-byte big-endian length that does not count itself.
//!
//! Opcode choice for creates (documented here because the choice is visible to the server):
//! the recorder sends what the Java client sends for the matching API call:
//! - `create` (1) when the step does not ask for the Stat, `create2` (15) when it does
//!   (`stat: true`); the request body is the same `CreateRequest`;
//! - `createContainer` (19) for [`CreateMode::Container`], `createTTL` (21) for the TTL modes or
//!   whenever a `ttl_ms` is given (a TTL of 0 is sent when a TTL mode has no `ttl_ms`; the
//!   server decides). Both answer with a `Create2Response`; its Stat is recorded only when the
//!   step asked for it (`stat: true`), as with `create`/`create2`.
//!
//! The same rules apply inside a multi.

use zksim_model::error::ErrorCode;
use zksim_model::op::{
    Acl, AddWatchMode, CreateMode, OpResult, Request, Response, WatchedEvent, WatcherType,
};
use zksim_model::op::{EventType, KeeperState};
use zksim_model::server::SetWatches;
use zksim_model::{Data, Stat};

/// ZooKeeper opcodes (`ZooDefs.OpCode`) the recorder uses.
pub mod opcode {
    /// `create`.
    pub const CREATE: i32 = 1;
    /// `delete`.
    pub const DELETE: i32 = 2;
    /// `exists`.
    pub const EXISTS: i32 = 3;
    /// `getData`.
    pub const GET_DATA: i32 = 4;
    /// `setData`.
    pub const SET_DATA: i32 = 5;
    /// `getACL`.
    pub const GET_ACL: i32 = 6;
    /// `setACL`.
    pub const SET_ACL: i32 = 7;
    /// `getChildren`.
    pub const GET_CHILDREN: i32 = 8;
    /// `sync`.
    pub const SYNC: i32 = 9;
    /// `ping`.
    pub const PING: i32 = 11;
    /// `getChildren2`.
    pub const GET_CHILDREN2: i32 = 12;
    /// `check`.
    pub const CHECK: i32 = 13;
    /// `multi`.
    pub const MULTI: i32 = 14;
    /// `create2`.
    pub const CREATE2: i32 = 15;
    /// `removeWatches`.
    pub const REMOVE_WATCHES: i32 = 18;
    /// `createContainer`.
    pub const CREATE_CONTAINER: i32 = 19;
    /// `createTTL`.
    pub const CREATE_TTL: i32 = 21;
    /// `setWatches`.
    pub const SET_WATCHES: i32 = 101;
    /// `setWatches2`.
    pub const SET_WATCHES2: i32 = 105;
    /// `addWatch`.
    pub const ADD_WATCH: i32 = 106;
    /// `closeSession`.
    pub const CLOSE_SESSION: i32 = -11;
    /// The type of an `ErrorResult` inside a multi response.
    pub const ERROR: i32 = -1;
}

/// Special xids (`ClientCnxn`).
pub mod xid {
    /// Watch notifications.
    pub const NOTIFICATION: i32 = -1;
    /// Pings.
    pub const PING: i32 = -2;
    /// `setWatches` / `setWatches2` sent on reconnect.
    pub const SET_WATCHES: i32 = -8;
}

/// The size of a serialized `Stat`.
pub const STAT_LEN: usize = 68;

/// Appends jute primitives to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }
    /// `int`.
    pub fn int(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// `long`.
    pub fn long(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// `boolean`.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    /// `buffer`, -1 for null.
    pub fn buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.int(-1),
            Some(b) => {
                self.int(len_i32(b.len()));
                self.buf.extend_from_slice(b);
            }
        }
    }
    /// `ustring` (never null here).
    pub fn string(&mut self, s: &str) {
        self.buffer(Some(s.as_bytes()));
    }
    /// `vector<ustring>`.
    pub fn strings(&mut self, v: &[String]) {
        self.int(len_i32(v.len()));
        for s in v {
            self.string(s);
        }
    }
    /// `vector<ACL>`.
    pub fn acls(&mut self, v: &[Acl]) {
        self.int(len_i32(v.len()));
        for a in v {
            self.int(a.perms as i32);
            self.string(&a.scheme);
            self.string(&a.id);
        }
    }
}

fn len_i32(n: usize) -> i32 {
    i32::try_from(n).expect("jute lengths fit in an int")
}

/// Reads jute primitives from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A decoding error: the server sent something the recorder cannot read.
pub type DecodeError = String;

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(format!(
                "truncated frame: wanted {} at offset {}, frame has {}",
                zksim_sim::plural::count(n, "byte", "bytes"),
                self.pos,
                self.buf.len()
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// `int`.
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    /// `long`.
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// `boolean`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }
    /// `buffer`, `None` for null (length -1).
    pub fn buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?.to_vec()))
    }
    /// `ustring`; null reads as the empty string.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.buffer()?.unwrap_or_default();
        String::from_utf8(b).map_err(|e| format!("string is not UTF-8: {e}"))
    }
    /// `vector<ustring>`; null reads as empty.
    pub fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.int()?;
        (0..n.max(0)).map(|_| self.string()).collect()
    }
    /// `vector<ACL>`; null reads as empty.
    pub fn acls(&mut self) -> Result<Vec<Acl>, DecodeError> {
        let n = self.int()?;
        (0..n.max(0))
            .map(|_| {
                Ok(Acl {
                    perms: self.int()? as u32,
                    scheme: self.string()?,
                    id: self.string()?,
                })
            })
            .collect()
    }
    /// A `Stat`, raw (not normalized).
    pub fn stat(&mut self) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: self.long()?,
            mzxid: self.long()?,
            ctime: self.long()?,
            mtime: self.long()?,
            version: self.int()?,
            cversion: self.int()?,
            aversion: self.int()?,
            ephemeral_owner: self.long()?,
            data_length: self.int()?,
            num_children: self.int()?,
            pzxid: self.long()?,
        })
    }
}

/// `ConnectRequest` plus the trailing `readOnly` flag the Java client appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The highest zxid the client has seen (0 for a new session).
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// 16 zero bytes for a new session, else the session's password.
    pub passwd: Vec<u8>,
    /// Whether a read-only server is acceptable.
    pub read_only: bool,
}

impl ConnectRequest {
    /// The frame payload (no length prefix, no request header).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.int(self.protocol_version);
        w.long(self.last_zxid_seen);
        w.int(self.timeout_ms);
        w.long(self.session_id);
        w.buffer(Some(&self.passwd));
        w.bool(self.read_only);
        w.buf
    }
}

/// `ConnectResponse` (plus the optional trailing `readOnly` flag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// Protocol version.
    pub protocol_version: i32,
    /// Negotiated timeout; <= 0 means the session has expired.
    pub timeout_ms: i32,
    /// The session id.
    pub session_id: i64,
    /// The session password.
    pub passwd: Vec<u8>,
    /// Whether the server is read-only.
    pub read_only: bool,
}

impl ConnectResponse {
    /// Decodes a frame payload.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let protocol_version = r.int()?;
        let timeout_ms = r.int()?;
        let session_id = r.long()?;
        let passwd = r.buffer()?.unwrap_or_default();
        let read_only = if r.remaining() > 0 { r.bool()? } else { false };
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}

/// `ReplyHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The request's xid, or a special xid.
    pub xid: i32,
    /// The server's last processed zxid (the txn's zxid for a write).
    pub zxid: i64,
    /// The result code.
    pub err: i32,
}

/// One frame received after the handshake, split into header and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The reply header.
    pub header: ReplyHeader,
    /// The body after the header.
    pub body: Vec<u8>,
}

impl Frame {
    /// Splits a frame payload.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let header = ReplyHeader {
            xid: r.int()?,
            zxid: r.long()?,
            err: r.int()?,
        };
        Ok(Frame {
            header,
            body: b[16..].to_vec(),
        })
    }
}

/// Decodes a `WatcherEvent` (the body of a notification, xid -1).
pub fn decode_watcher_event(body: &[u8]) -> Result<WatchedEvent, DecodeError> {
    let mut r = Reader::new(body);
    let t = r.int()?;
    let s = r.int()?;
    let path = r.string()?;
    let kind = EventType::from_code(t).ok_or_else(|| format!("unknown event type {t}"))?;
    let state = keeper_state(s).ok_or_else(|| format!("unknown keeper state {s}"))?;
    Ok(WatchedEvent { kind, state, path })
}

fn keeper_state(code: i32) -> Option<KeeperState> {
    [
        KeeperState::Disconnected,
        KeeperState::SyncConnected,
        KeeperState::AuthFailed,
        KeeperState::ConnectedReadOnly,
        KeeperState::Expired,
        KeeperState::Closed,
    ]
    .into_iter()
    .find(|k| k.code() == code)
}

/// Encodes a request header followed by a body into a frame payload.
pub fn with_header(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.int(xid);
    w.int(op);
    w.buf.extend_from_slice(body);
    w.buf
}

/// The opcode the recorder sends for a request (see the module doc for creates).
pub fn opcode_of(req: &Request) -> i32 {
    match req {
        Request::Create {
            mode, ttl_ms, stat, ..
        } => {
            if mode.is_ttl() || ttl_ms.is_some() {
                opcode::CREATE_TTL
            } else if *mode == CreateMode::Container {
                opcode::CREATE_CONTAINER
            } else if *stat {
                opcode::CREATE2
            } else {
                opcode::CREATE
            }
        }
        Request::Delete { .. } => opcode::DELETE,
        Request::Exists { .. } => opcode::EXISTS,
        Request::GetData { .. } => opcode::GET_DATA,
        Request::SetData { .. } => opcode::SET_DATA,
        Request::GetAcl { .. } => opcode::GET_ACL,
        Request::SetAcl { .. } => opcode::SET_ACL,
        Request::GetChildren { stat, .. } => {
            if *stat {
                opcode::GET_CHILDREN2
            } else {
                opcode::GET_CHILDREN
            }
        }
        Request::Sync { .. } => opcode::SYNC,
        Request::Check { .. } => opcode::CHECK,
        Request::Multi { .. } => opcode::MULTI,
        Request::RemoveWatches { .. } => opcode::REMOVE_WATCHES,
        Request::AddWatch { .. } => opcode::ADD_WATCH,
    }
}

fn watcher_type_code(t: WatcherType) -> i32 {
    match t {
        WatcherType::Children => 1,
        WatcherType::Data => 2,
        WatcherType::Any => 3,
    }
}

fn add_watch_mode_code(m: AddWatchMode) -> i32 {
    match m {
        AddWatchMode::Persistent => 0,
        AddWatchMode::PersistentRecursive => 1,
    }
}

/// Encodes a request body (without the request header). A multi nested in a multi cannot be
/// encoded (the wire format has no way to say it) and is an error.
pub fn encode_body(req: &Request, w: &mut Writer) -> Result<(), String> {
    match req {
        Request::Create {
            path,
            data,
            acl,
            mode,
            ttl_ms,
            ..
        } => {
            w.string(path);
            w.buffer(data.0.as_deref());
            w.acls(acl);
            w.int(mode.flag());
            if opcode_of(req) == opcode::CREATE_TTL {
                w.long(ttl_ms.unwrap_or(0));
            }
        }
        Request::Delete { path, version } | Request::Check { path, version } => {
            w.string(path);
            w.int(*version);
        }
        Request::Exists { path, watch }
        | Request::GetData { path, watch }
        | Request::GetChildren { path, watch, .. } => {
            w.string(path);
            w.bool(*watch);
        }
        Request::SetData {
            path,
            data,
            version,
        } => {
            w.string(path);
            w.buffer(data.0.as_deref());
            w.int(*version);
        }
        Request::GetAcl { path } | Request::Sync { path } => w.string(path),
        Request::SetAcl { path, acl, version } => {
            w.string(path);
            w.acls(acl);
            w.int(*version);
        }
        Request::Multi { ops } => {
            for op in ops {
                if matches!(op, Request::Multi { .. }) {
                    return Err("a multi inside a multi cannot be sent".into());
                }
                // MultiHeader{type, done, err}
                w.int(opcode_of(op));
                w.bool(false);
                w.int(-1);
                encode_body(op, w)?;
            }
            w.int(-1);
            w.bool(true);
            w.int(-1);
        }
        Request::RemoveWatches { path, watcher_type } => {
            w.string(path);
            w.int(watcher_type_code(*watcher_type));
        }
        Request::AddWatch { path, mode } => {
            w.string(path);
            w.int(add_watch_mode_code(*mode));
        }
    }
    Ok(())
}

/// Encodes a complete request frame payload: `RequestHeader(xid, opcode)` and the body.
pub fn encode_request(xid: i32, req: &Request) -> Result<Vec<u8>, String> {
    let mut w = Writer::new();
    w.int(xid);
    w.int(opcode_of(req));
    encode_body(req, &mut w)?;
    Ok(w.buf)
}

/// The `SetWatches` (101) or `SetWatches2` (105) frame payload, header xid -8, that
/// re-registers a reconnecting client's watches relative to its lastZxid. As
/// `ClientCnxn.primeConnection` in 3.8: plain `setWatches` when there are no persistent
/// watches, `setWatches2` otherwise. (The Java client also splits lists longer than 128K
/// characters into several packets; the recorder never has that many.)
pub fn encode_set_watches(relative_zxid: i64, w: &SetWatches) -> Vec<u8> {
    let v2 = !w.persistent.is_empty() || !w.persistent_recursive.is_empty();
    let mut out = Writer::new();
    out.int(xid::SET_WATCHES);
    out.int(if v2 {
        opcode::SET_WATCHES2
    } else {
        opcode::SET_WATCHES
    });
    out.long(relative_zxid);
    out.strings(&w.data);
    out.strings(&w.exist);
    out.strings(&w.child);
    if v2 {
        out.strings(&w.persistent);
        out.strings(&w.persistent_recursive);
    }
    out.buf
}

/// Decodes the body of a successful reply to `req` (reply-header err 0). Stats are raw.
pub fn decode_response(req: &Request, body: &[u8]) -> Result<Response, DecodeError> {
    let mut r = Reader::new(body);
    let resp = match req {
        Request::Create { stat, .. } => {
            let path = r.string()?;
            let st = if opcode_of(req) == opcode::CREATE {
                None
            } else {
                Some(r.stat()?)
            };
            Response::Create {
                path,
                stat: if *stat { st } else { None },
            }
        }
        Request::Delete { .. } | Request::Check { .. } | Request::RemoveWatches { .. } => {
            Response::Empty
        }
        // 3.8's FinalRequestProcessor answers addWatch with an `ErrorResponse(0)` body.
        Request::AddWatch { .. } => {
            let code = r.int()?;
            if code != 0 {
                return Err(format!("addWatch reply body carries code {code}"));
            }
            Response::Empty
        }
        Request::Exists { .. } | Request::SetData { .. } | Request::SetAcl { .. } => {
            Response::Stat { stat: r.stat()? }
        }
        Request::GetData { .. } => Response::Data {
            data: Data(r.buffer()?),
            stat: r.stat()?,
        },
        Request::GetAcl { .. } => Response::Acl {
            acl: r.acls()?,
            stat: r.stat()?,
        },
        Request::GetChildren { stat, .. } => Response::Children {
            children: r.strings()?,
            stat: if *stat { Some(r.stat()?) } else { None },
        },
        Request::Sync { .. } => Response::Sync { path: r.string()? },
        Request::Multi { ops } => Response::Multi {
            results: decode_multi(ops, &mut r)?,
        },
    };
    if r.remaining() != 0 {
        return Err(format!(
            "{} trailing bytes after the {} response",
            r.remaining(),
            req.name()
        ));
    }
    Ok(resp)
}

fn decode_multi(ops: &[Request], r: &mut Reader<'_>) -> Result<Vec<OpResult>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let t = r.int()?;
        let done = r.bool()?;
        let err = r.int()?;
        if done {
            break;
        }
        let op = ops.get(out.len());
        let res = match t {
            opcode::ERROR => {
                let code = r.int()?;
                OpResult::Error {
                    code: error_code(code)?,
                }
            }
            opcode::CREATE => OpResult::Create {
                path: r.string()?,
                stat: None,
            },
            opcode::CREATE2 | opcode::CREATE_TTL | opcode::CREATE_CONTAINER => {
                let path = r.string()?;
                let st = r.stat()?;
                let asked = matches!(op, Some(Request::Create { stat: true, .. }));
                OpResult::Create {
                    path,
                    stat: if asked { Some(st) } else { None },
                }
            }
            opcode::DELETE => OpResult::Delete,
            opcode::SET_DATA => OpResult::SetData { stat: r.stat()? },
            opcode::CHECK => OpResult::Check,
            other => {
                return Err(format!(
                    "multi result of unexpected type {other} (err {err})"
                ))
            }
        };
        out.push(res);
    }
    Ok(out)
}

/// The [`ErrorCode`] for a wire number, or a decoding error for a number ZooKeeper does not
/// define.
pub fn error_code(code: i32) -> Result<ErrorCode, DecodeError> {
    ErrorCode::from_code(code).ok_or_else(|| format!("unknown error code {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The open ACL: perms 31, "world", "anyone" (27 bytes with the vector count).
    const OPEN_ACL: &str = "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65";

    fn stat_bytes(s: &Stat) -> Vec<u8> {
        let mut w = Writer::new();
        w.long(s.czxid);
        w.long(s.mzxid);
        w.long(s.ctime);
        w.long(s.mtime);
        w.int(s.version);
        w.int(s.cversion);
        w.int(s.aversion);
        w.long(s.ephemeral_owner);
        w.int(s.data_length);
        w.int(s.num_children);
        w.long(s.pzxid);
        assert_eq!(w.buf.len(), STAT_LEN);
        w.buf
    }

    fn sample_stat() -> Stat {
        Stat {
            czxid: 2,
            mzxid: 3,
            ctime: 1000,
            mtime: 1001,
            version: 1,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0x100,
            data_length: 2,
            num_children: 0,
            pzxid: 2,
        }
    }

    #[test]
    fn create_request_bytes() {
        let req = Request::Create {
            path: "/a".into(),
            data: Data::from("xy"),
            acl: Acl::open(),
            mode: CreateMode::Ephemeral,
            ttl_ms: None,
            stat: false,
        };
        let b = encode_request(7, &req).unwrap();
        let want = format!("00000007 00000001 00000002 2f61 00000002 7879 {OPEN_ACL} 00000001");
        assert_eq!(hex(&b), hex(&unhex(&want)));
        // 8 header + 6 path + 6 data + 27 acl + 4 flags.
        assert_eq!(b.len(), 51);

        // create2 is the same body under opcode 15; null data is a length of -1.
        let req2 = Request::Create {
            path: "/a".into(),
            data: Data::NULL,
            acl: Acl::open(),
            mode: CreateMode::Persistent,
            ttl_ms: None,
            stat: true,
        };
        let want2 = format!("00000008 0000000f 00000002 2f61 ffffffff {OPEN_ACL} 00000000");
        assert_eq!(hex(&encode_request(8, &req2).unwrap()), hex(&unhex(&want2)));

        // createTTL appends the TTL as a long.
        let req3 = Request::Create {
            path: "/a".into(),
            data: Data::from(""),
            acl: Acl::open(),
            mode: CreateMode::PersistentWithTtl,
            ttl_ms: Some(500),
            stat: false,
        };
        let want3 = format!(
            "00000009 00000015 00000002 2f61 00000000 {OPEN_ACL} 00000005 00000000000001f4"
        );
        assert_eq!(hex(&encode_request(9, &req3).unwrap()), hex(&unhex(&want3)));
    }

    #[test]
    fn create_responses_decode() {
        let req = Request::Create {
            path: "/s-".into(),
            data: Data::NULL,
            acl: Acl::open(),
            mode: CreateMode::PersistentSequential,
            ttl_ms: None,
            stat: false,
        };
        let body = unhex("0000000d 2f732d30303030303030303030");
        assert_eq!(
            decode_response(&req, &body).unwrap(),
            Response::Create {
                path: "/s-0000000000".into(),
                stat: None
            }
        );
        let req2 = Request::Create {
            path: "/s-".into(),
            data: Data::NULL,
            acl: Acl::open(),
            mode: CreateMode::PersistentSequential,
            ttl_ms: None,
            stat: true,
        };
        let mut body2 = body.clone();
        body2.extend(stat_bytes(&sample_stat()));
        assert_eq!(
            decode_response(&req2, &body2).unwrap(),
            Response::Create {
                path: "/s-0000000000".into(),
                stat: Some(sample_stat())
            }
        );
        // A create (opcode 1) response with trailing bytes is refused.
        assert!(decode_response(&req, &body2).is_err());
    }

    #[test]
    fn multi_request_and_results() {
        let req = Request::Multi {
            ops: vec![
                Request::Create {
                    path: "/m".into(),
                    data: Data::from("d"),
                    acl: Acl::open(),
                    mode: CreateMode::Persistent,
                    ttl_ms: None,
                    stat: false,
                },
                Request::Check {
                    path: "/m".into(),
                    version: 99,
                },
                Request::Delete {
                    path: "/x".into(),
                    version: -1,
                },
                Request::SetData {
                    path: "/m".into(),
                    data: Data::from("e"),
                    version: 0,
                },
            ],
        };
        let want = format!(
            "00000003 0000000e \
             00000001 00 ffffffff 00000002 2f6d 00000001 64 {OPEN_ACL} 00000000 \
             0000000d 00 ffffffff 00000002 2f6d 00000063 \
             00000002 00 ffffffff 00000002 2f78 ffffffff \
             00000005 00 ffffffff 00000002 2f6d 00000001 65 00000000 \
             ffffffff 01 ffffffff"
        );
        assert_eq!(hex(&encode_request(3, &req).unwrap()), hex(&unhex(&want)));

        // A failed multi: [ErrorResult(0), ErrorResult(-103), ErrorResult(-2), ErrorResult(-2)].
        let failed = unhex(
            "ffffffff 00 00000000 00000000 \
             ffffffff 00 ffffff99 ffffff99 \
             ffffffff 00 fffffffe fffffffe \
             ffffffff 00 fffffffe fffffffe \
             ffffffff 01 ffffffff",
        );
        let code = |c| OpResult::Error { code: c };
        assert_eq!(
            decode_response(&req, &failed).unwrap(),
            Response::Multi {
                results: vec![
                    code(ErrorCode::Ok),
                    code(ErrorCode::BadVersion),
                    code(ErrorCode::RuntimeInconsistency),
                    code(ErrorCode::RuntimeInconsistency),
                ]
            }
        );

        // A successful one: create → path, check, delete, setData → Stat.
        let mut ok = unhex("00000001 00 00000000 00000002 2f6d");
        ok.extend(unhex("0000000d 00 00000000"));
        ok.extend(unhex("00000002 00 00000000"));
        ok.extend(unhex("00000005 00 00000000"));
        ok.extend(stat_bytes(&sample_stat()));
        ok.extend(unhex("ffffffff 01 ffffffff"));
        assert_eq!(
            decode_response(&req, &ok).unwrap(),
            Response::Multi {
                results: vec![
                    OpResult::Create {
                        path: "/m".into(),
                        stat: None
                    },
                    OpResult::Check,
                    OpResult::Delete,
                    OpResult::SetData {
                        stat: sample_stat()
                    },
                ]
            }
        );

        // An empty multi is just the end marker.
        let empty = Request::Multi { ops: vec![] };
        assert_eq!(
            hex(&encode_request(4, &empty).unwrap()),
            "000000040000000effffffff01ffffffff"
        );
        assert!(encode_request(
            5,
            &Request::Multi {
                ops: vec![empty.clone()]
            }
        )
        .is_err());
    }

    #[test]
    fn set_watches_v1_and_v2() {
        let mut sw = SetWatches {
            data: vec!["/a".into()],
            exist: vec![],
            child: vec!["/".into(), "/b".into()],
            ..Default::default()
        };
        let v1 = "fffffff8 00000065 0000000000001234 \
                  00000001 00000002 2f61 \
                  00000000 \
                  00000002 00000001 2f 00000002 2f62";
        assert_eq!(hex(&encode_set_watches(0x1234, &sw)), hex(&unhex(v1)));
        sw.persistent_recursive = vec!["/r".into()];
        let v2 = "fffffff8 00000069 0000000000001234 \
                  00000001 00000002 2f61 \
                  00000000 \
                  00000002 00000001 2f 00000002 2f62 \
                  00000000 \
                  00000001 00000002 2f72";
        assert_eq!(hex(&encode_set_watches(0x1234, &sw)), hex(&unhex(v2)));
    }

    #[test]
    fn notification_frame() {
        // ReplyHeader{xid -1, zxid -1, err 0} + WatcherEvent{NodeDeleted, SyncConnected, "/e"}.
        let b = unhex("ffffffff ffffffffffffffff 00000000 00000002 00000003 00000002 2f65");
        let f = Frame::decode(&b).unwrap();
        assert_eq!(
            f.header,
            ReplyHeader {
                xid: xid::NOTIFICATION,
                zxid: -1,
                err: 0
            }
        );
        assert_eq!(
            decode_watcher_event(&f.body).unwrap(),
            WatchedEvent::node(EventType::NodeDeleted, "/e")
        );
        assert!(decode_watcher_event(&unhex("00000063 00000003 00000000")).is_err());
    }

    #[test]
    fn connect_handshake() {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 5,
            timeout_ms: 4000,
            session_id: 0x1000,
            passwd: vec![0; 16],
            read_only: false,
        };
        let want = "00000000 0000000000000005 00000fa0 0000000000001000 \
                    00000010 00000000000000000000000000000000 00";
        assert_eq!(hex(&req.encode()), hex(&unhex(want)));
        let resp = unhex(
            "00000000 00000fa0 0000000000001000 00000010 0102030405060708090a0b0c0d0e0f10 00",
        );
        let r = ConnectResponse::decode(&resp).unwrap();
        assert_eq!(r.timeout_ms, 4000);
        assert_eq!(r.session_id, 0x1000);
        assert_eq!(r.passwd, (1..=16).collect::<Vec<u8>>());
        // Without the trailing readOnly byte (older servers).
        assert!(ConnectResponse::decode(&resp[..resp.len() - 1]).is_ok());
    }

    #[test]
    fn reads_and_their_responses() {
        let st = stat_bytes(&sample_stat());
        let get = Request::GetData {
            path: "/a".into(),
            watch: true,
        };
        assert_eq!(
            hex(&encode_request(1, &get).unwrap()),
            "0000000100000004000000022f6101"
        );
        let mut body = unhex("ffffffff");
        body.extend(&st);
        assert_eq!(
            decode_response(&get, &body).unwrap(),
            Response::Data {
                data: Data::NULL,
                stat: sample_stat()
            }
        );
        let ls2 = Request::GetChildren {
            path: "/".into(),
            watch: false,
            stat: true,
        };
        assert_eq!(opcode_of(&ls2), opcode::GET_CHILDREN2);
        let mut body = unhex("00000002 00000001 61 00000001 62");
        body.extend(&st);
        assert_eq!(
            decode_response(&ls2, &body).unwrap(),
            Response::Children {
                children: vec!["a".into(), "b".into()],
                stat: Some(sample_stat())
            }
        );
        let aw = Request::AddWatch {
            path: "/p".into(),
            mode: AddWatchMode::PersistentRecursive,
        };
        assert_eq!(
            hex(&encode_request(2, &aw).unwrap()),
            "000000020000006a000000022f7000000001"
        );
        assert_eq!(
            decode_response(&aw, &unhex("00000000")).unwrap(),
            Response::Empty
        );
        let rw = Request::RemoveWatches {
            path: "/p".into(),
            watcher_type: WatcherType::Any,
        };
        assert_eq!(
            hex(&encode_request(3, &rw).unwrap()),
            "0000000300000012000000022f7000000003"
        );
        let mut acl_body = unhex(OPEN_ACL);
        acl_body.extend(&st);
        assert_eq!(
            decode_response(&Request::GetAcl { path: "/".into() }, &acl_body).unwrap(),
            Response::Acl {
                acl: Acl::open(),
                stat: sample_stat()
            }
        );
    }
}
