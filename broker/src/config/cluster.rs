//! The `[cluster]` section: the node's roles, the controller quorum it belongs to, and the
//! broker's session with the active controller.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Roles and quorum membership (Kafka's `process.roles`, `controller.quorum.voters`,
/// `broker.rack`, `broker.session.timeout.ms`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `broker`, `controller` or `broker,controller` (combined mode).
    pub roles: String,
    /// The controller quorum: `id@host:port` entries, comma-separated, naming every voter's
    /// controller listener. Empty: this node alone is the quorum (a standalone node).
    pub voters: String,
    /// `ip:port` the controller listener binds. Empty: this node's own entry in `voters`
    /// (`127.0.0.1:0` on a standalone node, which nobody else dials). A broker-only node must
    /// set it: the quorum sends it the metadata log there.
    pub controller_listen: String,
    /// `host:port` other nodes dial for this node's controller listener; empty = the bound
    /// address.
    pub controller_advertise: String,
    /// `broker.rack`: replicas of a partition are spread across racks first. Empty = none.
    pub rack: String,
    /// `broker.session.timeout.ms`: a broker whose heartbeats stop this long is fenced and its
    /// partitions get new leaders.
    pub session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// The quorum's election timeout (`controller.quorum.election.timeout.ms`); a candidate
    /// waits a random time between it and twice it.
    pub election_timeout_ms: u64,
    /// How long a metadata change waits for a leader and for its commit.
    pub request_timeout_ms: u64,
    /// On SIGTERM, how long the broker waits for the controller to move its leadership away
    /// before stopping anyway (`controlled.shutdown` in Kafka).
    pub controlled_shutdown_timeout_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            roles: "broker,controller".into(),
            voters: String::new(),
            controller_listen: String::new(),
            controller_advertise: String::new(),
            rack: String::new(),
            session_timeout_ms: 9000,
            heartbeat_interval_ms: 2000,
            election_timeout_ms: 1000,
            request_timeout_ms: 30_000,
            controlled_shutdown_timeout_ms: 30_000,
        }
    }
}

/// The roles a node plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub broker: bool,
    pub controller: bool,
}

impl ClusterConfig {
    pub fn roles(&self) -> Result<Roles, ConfigError> {
        let mut roles = Roles {
            broker: false,
            controller: false,
        };
        for r in self.roles.split(',').map(str::trim) {
            match r {
                "broker" => roles.broker = true,
                "controller" => roles.controller = true,
                other => {
                    return Err(ConfigError::Invalid {
                        key: "cluster.roles",
                        reason: format!(
                            "{other:?}: expected broker, controller or broker,controller"
                        ),
                    });
                }
            }
        }
        Ok(roles)
    }

    /// The voters by node id; empty for a standalone node.
    pub fn voters(&self) -> Result<BTreeMap<i32, String>, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            key: "cluster.voters",
            reason,
        };
        let mut voters = BTreeMap::new();
        for entry in self
            .voters
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, addr) = entry
                .split_once('@')
                .ok_or_else(|| invalid(format!("{entry:?} is not id@host:port")))?;
            let id: i32 = id
                .parse()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| invalid(format!("{entry:?}: {id:?} is not a node id")))?;
            match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => return Err(invalid(format!("{entry:?}: {addr:?} is not host:port"))),
            }
            if voters.insert(id, addr.to_string()).is_some() {
                return Err(invalid(format!("node {id} is listed twice")));
            }
        }
        Ok(voters)
    }

    /// Where this node's controller listener binds.
    pub fn controller_listen_addr(&self, node_id: i32) -> Result<SocketAddr, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            key: "cluster.controller_listen",
            reason,
        };
        let voters = self.voters()?;
        let text = if !self.controller_listen.is_empty() {
            self.controller_listen.clone()
        } else if voters.is_empty() {
            "127.0.0.1:0".to_string()
        } else if let Some(own) = voters.get(&node_id) {
            own.clone()
        } else {
            return Err(invalid(format!(
                "empty, and node {node_id} is not among the voters to take its address from"
            )));
        };
        text.parse()
            .map_err(|e| invalid(format!("{text:?} is not ip:port ({e})")))
    }

    pub fn validate(&self, node_id: i32) -> Result<(), ConfigError> {
        let roles = self.roles()?;
        let voters = self.voters()?;
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if !roles.broker && !roles.controller {
            return invalid("cluster.roles", "no role given".into());
        }
        if voters.is_empty() && !(roles.broker && roles.controller) {
            return invalid(
                "cluster.roles",
                "a standalone node (no cluster.voters) must be both broker and controller".into(),
            );
        }
        if roles.controller && !voters.is_empty() && !voters.contains_key(&node_id) {
            return invalid(
                "cluster.voters",
                format!("this node ({node_id}) has the controller role but is not a voter"),
            );
        }
        if !roles.controller && voters.contains_key(&node_id) {
            return invalid(
                "cluster.roles",
                format!("node {node_id} is a voter but lacks the controller role"),
            );
        }
        self.controller_listen_addr(node_id)?;
        for (key, v) in [
            ("cluster.session_timeout_ms", self.session_timeout_ms),
            ("cluster.heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("cluster.election_timeout_ms", self.election_timeout_ms),
            ("cluster.request_timeout_ms", self.request_timeout_ms),
        ] {
            if v == 0 {
                return invalid(key, "must be above 0".into());
            }
        }
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return invalid(
                "cluster.heartbeat_interval_ms",
                format!(
                    "{} must be below cluster.session_timeout_ms ({})",
                    self.heartbeat_interval_ms, self.session_timeout_ms
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(roles: &str, voters: &str) -> ClusterConfig {
        ClusterConfig {
            roles: roles.into(),
            voters: voters.into(),
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn standalone_defaults_are_valid() {
        let c = ClusterConfig::default();
        c.validate(0).expect("valid");
        assert_eq!(
            c.controller_listen_addr(0).expect("addr"),
            "127.0.0.1:0".parse().expect("addr")
        );
    }

    #[test]
    fn voters_parse_and_name_the_listener() {
        let c = cfg("broker,controller", "1@127.0.0.1:9093, 2@127.0.0.1:9094");
        c.validate(2).expect("valid");
        assert_eq!(c.voters().expect("voters").len(), 2);
        assert_eq!(
            c.controller_listen_addr(2).expect("addr").port(),
            9094,
            "its own voter entry"
        );
    }

    #[test]
    fn broken_settings_are_refused_with_the_key() {
        for (c, id, key) in [
            (cfg("broker,controller", "1@x"), 1, "cluster.voters"),
            (cfg("broker,controller", "a@h:1"), 1, "cluster.voters"),
            (cfg("broker,controller", "1@h:1,1@h:2"), 1, "cluster.voters"),
            (
                cfg("broker,controller", "1@127.0.0.1:9093"),
                2,
                "cluster.voters",
            ),
            (cfg("broker", "1@127.0.0.1:9093"), 1, "cluster.roles"),
            (cfg("broker", ""), 1, "cluster.roles"),
            (cfg("bookie", ""), 1, "cluster.roles"),
            (
                cfg("broker", "1@127.0.0.1:9093"),
                2,
                "cluster.controller_listen",
            ),
        ] {
            match c.validate(id) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{c:?}"),
                other => panic!("{c:?}: expected an error on {key}, got {other:?}"),
            }
        }
    }
}
