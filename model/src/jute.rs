//! Serialized sizes of requests, as ZooKeeper's jute encoding lays them out.
//!
//! The server reads a 4-byte length and then that many bytes (request header and body); a
//! length over `jute.maxbuffer` (1,048,575 by default) makes it close the connection without
//! applying anything (`NIOServerCnxn.readLength`). Checked against a real 3.8.0 server: with an
//! 8-character path and the open ACL the largest create that succeeds carries 1,048,520 data
//! bytes (8 + 12 + 4 + 1,048,520 + 27 + 4 = 1,048,575) and the largest setData 1,048,547
//! (8 + 12 + 4 + 1,048,547 + 4).

use crate::data::Data;
use crate::op::{Acl, Request};

/// The request header: xid and op type.
const HEADER: usize = 8;
/// A multi's per-op header: type, done flag, error code.
const MULTI_HEADER: usize = 4 + 1 + 4;

fn string(s: &str) -> usize {
    4 + s.len()
}

fn buffer(d: &Data) -> usize {
    4 + d.len()
}

fn acl_list(acl: &[Acl]) -> usize {
    4 + acl
        .iter()
        .map(|a| 4 + string(&a.scheme) + string(&a.id))
        .sum::<usize>()
}

/// The body of one request (no header).
fn body_len(req: &Request) -> usize {
    match req {
        Request::Create {
            path,
            data,
            acl,
            ttl_ms,
            ..
        } => {
            let ttl = if ttl_ms.is_some() { 8 } else { 0 };
            string(path) + buffer(data) + acl_list(acl) + 4 + ttl
        }
        Request::Delete { path, .. } | Request::Check { path, .. } => string(path) + 4,
        Request::Exists { path, .. } | Request::GetData { path, .. } => string(path) + 1,
        Request::GetChildren { path, .. } => string(path) + 1,
        Request::SetData { path, data, .. } => string(path) + buffer(data) + 4,
        Request::GetAcl { path } | Request::Sync { path } => string(path),
        Request::SetAcl { path, acl, .. } => string(path) + acl_list(acl) + 4,
        Request::Multi { ops } => {
            ops.iter()
                .map(|op| MULTI_HEADER + body_len(op))
                .sum::<usize>()
                + MULTI_HEADER
        }
        Request::RemoveWatches { path, .. } | Request::AddWatch { path, .. } => string(path) + 4,
    }
}

/// The length the server reads for this request: header plus body, without the 4-byte prefix.
pub fn request_len(req: &Request) -> usize {
    HEADER + body_len(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::CreateMode;

    // The largest create and setData a real server accepted sit exactly at the limit.
    #[test]
    fn largest_accepted_requests_are_exactly_max_buffer() {
        let create = Request::Create {
            path: "/big0001".into(),
            data: Data::bytes(vec![b'x'; 1_048_520]),
            acl: Acl::open(),
            mode: CreateMode::Persistent,
            ttl_ms: None,
            stat: false,
        };
        assert_eq!(request_len(&create), 0xfffff);
        let set = Request::SetData {
            path: "/big0001".into(),
            data: Data::bytes(vec![b'x'; 1_048_547]),
            version: -1,
        };
        assert_eq!(request_len(&set), 0xfffff);
    }
}
