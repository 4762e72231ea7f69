//! What the cluster's roles share: request builders and reply readers, and [`Calls`], a
//! role's calls in flight.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ErrorCode;
use crate::op::{Reply, Request, Response};
use crate::role::{Ctx, Tag};

/// A delete of `path`, whatever its version.
pub(super) fn delete(path: impl Into<String>) -> Request {
    Request::Delete {
        path: path.into(),
        version: -1,
    }
}

/// A getChildren of `path`, watched when `watch`.
pub(super) fn list(path: impl Into<String>, watch: bool) -> Request {
    Request::GetChildren {
        path: path.into(),
        watch,
        stat: false,
    }
}

/// A getData of `path`, unwatched.
pub(super) fn get(path: impl Into<String>) -> Request {
    Request::GetData {
        path: path.into(),
        watch: false,
    }
}

/// The children a reply lists (none for any other reply).
pub(super) fn children(reply: &Reply) -> Vec<String> {
    match reply {
        Ok(Response::Children { children, .. }) => children.clone(),
        _ => Vec::new(),
    }
}

/// Whether a reply is ConnectionLoss: the call may or may not have been applied.
pub(super) fn is_loss(reply: &Reply) -> bool {
    matches!(reply, Err(ErrorCode::ConnectionLoss))
}

/// A role's calls in flight, by tag, with what each was for.
///
/// A new call takes the smallest tag no call of this session still holds, not the next of a
/// counter: a tag only has to tell apart the replies that may still come, and a counter would
/// keep roles that differ only in how many calls they ever made distinct states for the
/// explorer (with the client's xids forgotten the same way, `fixed` 1/1/1/1 has 64,031 states
/// instead of 547,440).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Calls<Op> {
    /// The calls awaiting their reply, by tag.
    pub(super) inflight: BTreeMap<Tag, Op>,
    /// Calls given up ([`Calls::clear`]) whose replies this session still owes: their tags
    /// stay taken until the reply comes, so it is never taken for a newer call's.
    abandoned: BTreeSet<Tag>,
}

// By hand: a derive would ask `Op: Default`.
impl<Op> Default for Calls<Op> {
    fn default() -> Self {
        Calls {
            inflight: BTreeMap::new(),
            abandoned: BTreeSet::new(),
        }
    }
}

impl<Op> Calls<Op> {
    pub(super) fn call(&mut self, ctx: &mut Ctx, op: Op, request: Request) {
        let taken = |t: &Tag| self.inflight.contains_key(t) || self.abandoned.contains(t);
        let tag = (1..).find(|t| !taken(t)).expect("a free tag");
        self.inflight.insert(tag, op);
        ctx.call(tag, request);
    }

    pub(super) fn take(&mut self, tag: Tag) -> Option<Op> {
        self.abandoned.remove(&tag);
        self.inflight.remove(&tag)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Gives up every call in flight; their replies, when they come, are dropped.
    pub(super) fn clear(&mut self) {
        let given_up = std::mem::take(&mut self.inflight);
        self.abandoned.extend(given_up.into_keys());
    }

    /// A new session: no reply of the old one will come (the world drops them with it).
    pub(super) fn new_session(&mut self) {
        self.inflight.clear();
        self.abandoned.clear();
    }
}
