//! One member of a classic group, with the answers it is waiting for.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::api::{JoinResponse, SyncResponse};
use super::error::GroupError;

pub(crate) type JoinWaiter = oneshot::Sender<Result<JoinResponse, GroupError>>;
pub(crate) type SyncWaiter = oneshot::Sender<Result<SyncResponse, GroupError>>;

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    /// (name, metadata) in the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    pub(crate) join_waiter: Option<JoinWaiter>,
    pub(crate) sync_waiter: Option<SyncWaiter>,
    /// When the session expires unless refreshed.
    pub(crate) deadline: Instant,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub(crate) fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    pub(crate) fn refresh(&mut self, now: Instant) {
        self.deadline = now + self.session_timeout;
    }

    pub(crate) fn awaiting(&self) -> bool {
        self.join_waiter.is_some() || self.sync_waiter.is_some()
    }

    /// Answers a pending join or sync with `error`, as when the member is removed or fenced.
    pub(crate) fn fail_waiters(&mut self, error: GroupError) {
        if let Some(w) = self.join_waiter.take() {
            let _ = w.send(Err(error.clone()));
        }
        if let Some(w) = self.sync_waiter.take() {
            let _ = w.send(Err(error));
        }
    }
}
