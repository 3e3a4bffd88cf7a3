//! Single-flight: concurrent readers of the same missing footer or frame share one fetch.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use object_store::path::Path;

use super::ReadError;

/// A fetch that any number of readers can await.
pub(super) type Flight<V> = Shared<BoxFuture<'static, Result<V, ReadError>>>;

/// What [`Flights::join`] found.
pub(super) enum Joined<V> {
    /// The value was cached.
    Ready(V),
    /// A fetch is under way (maybe just started).
    Wait(Flight<V>),
    /// Nothing was cached or under way, and `start` declined to start a fetch.
    Declined,
}

/// The fetches in flight, by key.
pub(super) struct Flights<K, V> {
    map: Mutex<HashMap<K, Flight<V>>>,
}

impl<K, V> Flights<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Flights {
            map: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Flight<V>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the fetch of `key` if one is in flight; else returns `cached()` if it has the
    /// value; else spawns the future `start()` gives as the new fetch. The fetch runs in its
    /// own task, so it completes even if every reader goes away, and leaves the map when it
    /// is done (it must fill the caches before, so `cached` sees its value: `cached` is
    /// called under the map's lock).
    pub(super) fn join(
        self: &Arc<Self>,
        key: K,
        path: &Path,
        cached: impl FnOnce() -> Option<V>,
        start: impl FnOnce() -> Option<BoxFuture<'static, Result<V, ReadError>>>,
    ) -> Joined<V> {
        let mut map = self.lock();
        if let Some(flight) = map.get(&key) {
            return Joined::Wait(flight.clone());
        }
        if let Some(value) = cached() {
            return Joined::Ready(value);
        }
        let Some(work) = start() else {
            return Joined::Declined;
        };
        let flights = Arc::clone(self);
        let done_key = key.clone();
        let task = tokio::spawn(async move {
            let result = work.await;
            // Blocks until `join` below has inserted the flight and released the lock.
            flights.lock().remove(&done_key);
            result
        });
        let path = path.clone();
        let flight = async move {
            task.await.unwrap_or_else(|e| {
                Err(ReadError::Task {
                    path,
                    reason: e.to_string(),
                })
            })
        }
        .boxed()
        .shared();
        map.insert(key, flight.clone());
        Joined::Wait(flight)
    }

    /// Waits for every fetch now in flight (tests use it to let prefetches land).
    #[cfg(test)]
    pub(super) async fn settle(&self) {
        loop {
            let flights: Vec<Flight<V>> = self.lock().values().cloned().collect();
            if flights.is_empty() {
                return;
            }
            for f in flights {
                let _ = f.await;
            }
        }
    }
}
