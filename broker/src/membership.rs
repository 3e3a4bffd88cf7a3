//! The broker's membership in the cluster: it registers with the quorum at start, heartbeats
//! while it runs, and on SIGTERM asks the controller to move its leadership away before it
//! stops (Kafka's controlled shutdown).
//!
//! Registration gives the broker its epoch, which AlterPartition requests carry; each process
//! start is a new incarnation, so the controller fences what the previous process led right
//! away instead of waiting for its session to time out. A registered broker stays fenced (not
//! live, leading nothing) until its first heartbeat.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use controller::{BrokerInfo, BrokerRegistration, ControllerError, Heartbeat, MetadataStore};
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;

/// How long to wait between failed registration or heartbeat attempts.
const RETRY: Duration = Duration::from_millis(200);

/// Registers `info` until the quorum answers, then heartbeats until the controller unfences
/// the broker, so it is live before it serves. Returns the broker epoch.
pub async fn register(
    store: &Arc<dyn MetadataStore>,
    info: BrokerInfo,
    timeout: Duration,
) -> Result<i64, ControllerError> {
    let registration = BrokerRegistration {
        incarnation: uuid::Uuid::new_v4().simple().to_string(),
        info,
    };
    let id = registration.info.id;
    let deadline = tokio::time::Instant::now() + timeout;
    let epoch = retry_until(deadline, "registering with the controller", || {
        store.register_broker(registration.clone())
    })
    .await?;
    // Heartbeat until the controller unfences the broker: only then may it lead.
    loop {
        let reply = retry_until(deadline, "the first heartbeat", || {
            store.broker_heartbeat(Heartbeat {
                broker_id: id,
                broker_epoch: epoch,
                want_shutdown: false,
            })
        })
        .await?;
        if !reply.fenced {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ControllerError::Timeout(format!(
                "broker {id} is still fenced after {timeout:?}"
            )));
        }
        tokio::time::sleep(RETRY).await;
    }
    tracing::info!(
        broker_id = id,
        broker_epoch = epoch,
        "registered with the controller"
    );
    Ok(epoch)
}

async fn retry_until<T, F, Fut>(
    deadline: tokio::time::Instant,
    what: &str,
    mut call: F,
) -> Result<T, ControllerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ControllerError>>,
{
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "{what}: retrying");
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Heartbeats every `interval` until `shutdown`. A heartbeat the controller refuses (it lost
/// or replaced this broker's registration) makes the broker register again with a new epoch.
pub async fn heartbeat(
    broker: Arc<Broker>,
    info: BrokerInfo,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fenced = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let hb = Heartbeat {
            broker_id: broker.node_id,
            broker_epoch: broker.epoch(),
            want_shutdown: false,
        };
        match broker.store.broker_heartbeat(hb).await {
            Ok(reply) => {
                if reply.fenced != fenced {
                    tracing::info!(
                        fenced = reply.fenced,
                        "the controller changed this broker's state"
                    );
                    fenced = reply.fenced;
                }
            }
            Err(e) if is_stale_registration(&e) => {
                tracing::warn!(error = %e, "the controller refused the heartbeat; registering again");
                match register(&broker.store, info.clone(), interval * 5).await {
                    Ok(epoch) => broker.broker_epoch.store(epoch, Ordering::Release),
                    Err(e) => tracing::warn!(error = %e, "registering again failed"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
    }
}

/// Whether the controller no longer knows this registration.
fn is_stale_registration(e: &ControllerError) -> bool {
    matches!(
        e,
        ControllerError::StaleBrokerEpoch { .. } | ControllerError::BrokerNotRegistered(_)
    )
}

/// Kafka's controlled shutdown: heartbeats asking to shut down until the controller has moved
/// this broker's leadership away (or `timeout` passes), so clients fail over before the
/// process stops instead of after the session timeout. When no controller answers for a whole
/// session timeout (the quorum is gone, e.g. the last broker of a cluster stopping), the
/// broker stops without it.
pub async fn controlled_shutdown(broker: &Broker, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let patience = Duration::from_millis(broker.config.cluster.session_timeout_ms);
    let mut answered = tokio::time::Instant::now();
    loop {
        let hb = Heartbeat {
            broker_id: broker.node_id,
            broker_epoch: broker.epoch(),
            want_shutdown: true,
        };
        let call = tokio::time::timeout(patience, broker.store.broker_heartbeat(hb)).await;
        match call {
            Ok(Ok(reply)) if reply.may_shut_down => {
                tracing::info!("controlled shutdown: leadership moved away");
                return;
            }
            Ok(Ok(_)) => answered = tokio::time::Instant::now(),
            Ok(Err(e)) => tracing::debug!(error = %e, "controlled shutdown heartbeat"),
            Err(_) => tracing::debug!("controlled shutdown heartbeat timed out"),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            tracing::warn!(
                ?timeout,
                "controlled shutdown did not complete; stopping anyway"
            );
            return;
        }
        if now.duration_since(answered) >= patience {
            tracing::warn!("no controller answered; stopping without a controlled shutdown");
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}
