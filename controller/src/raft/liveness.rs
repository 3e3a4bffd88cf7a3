//! Broker sessions on the active controller: when each registered broker last sent a
//! heartbeat. In memory only: a new leader starts every session afresh.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::ClusterState;

#[derive(Debug, Default)]
pub(crate) struct Liveness {
    /// broker id -> (the broker epoch the session belongs to, last heartbeat).
    sessions: Mutex<HashMap<i32, (i64, Instant)>>,
    /// Controlled shutdowns already proposed, by (broker id, epoch).
    shutdowns: Mutex<HashSet<(i32, i64)>>,
}

impl Liveness {
    /// Forgets every session (this node just became the leader): each broker's session starts
    /// at the next check.
    pub(crate) fn reset(&self) {
        lock(&self.sessions).clear();
        lock(&self.shutdowns).clear();
    }

    /// A heartbeat from broker `id` at `epoch`.
    pub(crate) fn touch(&self, id: i32, epoch: i64) {
        lock(&self.sessions).insert(id, (epoch, Instant::now()));
    }

    /// The registered, unfenced brokers silent for longer than `timeout`, as (id, epoch).
    /// Brokers seen for the first time (or at a new epoch) start their session now.
    pub(crate) fn expired(&self, state: &ClusterState, timeout: Duration) -> Vec<(i32, i64)> {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|id, _| state.brokers.contains_key(id));
        let mut out = Vec::new();
        for (id, reg) in &state.brokers {
            let session = sessions.entry(*id).or_insert((reg.epoch, now));
            if session.0 != reg.epoch {
                *session = (reg.epoch, now);
            }
            if !reg.fenced && now.duration_since(session.1) > timeout {
                out.push((*id, reg.epoch));
            }
        }
        out
    }

    /// Whether a controlled shutdown of (id, epoch) is to be proposed now: true once.
    pub(crate) fn begin_shutdown(&self, id: i32, epoch: i64) -> bool {
        lock(&self.shutdowns).insert((id, epoch))
    }

    /// The proposal failed: the next heartbeat may try again.
    pub(crate) fn shutdown_failed(&self, id: i32, epoch: i64) {
        lock(&self.shutdowns).remove(&(id, epoch));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Registration;
    use crate::model::BrokerInfo;

    fn state(fenced: bool, epoch: i64) -> ClusterState {
        let mut s = ClusterState::new("c".into());
        s.brokers.insert(
            7,
            Registration {
                info: BrokerInfo {
                    id: 7,
                    host: "h".into(),
                    port: 1,
                    rack: None,
                },
                incarnation: "i".into(),
                epoch,
                fenced,
                shutting_down: false,
            },
        );
        s
    }

    #[test]
    fn sessions_expire_and_restart() {
        let l = Liveness::default();
        let t = Duration::from_millis(30);
        assert!(
            l.expired(&state(false, 1), t).is_empty(),
            "first sight starts the session"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(l.expired(&state(false, 1), t), vec![(7, 1)]);
        assert!(
            l.expired(&state(true, 1), t).is_empty(),
            "fenced brokers are not fenced again"
        );
        l.touch(7, 1);
        assert!(l.expired(&state(false, 1), t).is_empty());
        std::thread::sleep(Duration::from_millis(40));
        assert!(
            l.expired(&state(false, 2), t).is_empty(),
            "a new epoch is a new session"
        );
        l.reset();
        assert!(l.expired(&state(false, 2), t).is_empty());
        assert!(l.begin_shutdown(7, 2));
        assert!(!l.begin_shutdown(7, 2));
        l.shutdown_failed(7, 2);
        assert!(l.begin_shutdown(7, 2));
    }
}
