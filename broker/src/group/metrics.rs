//! The coordinator's figures, named the Prometheus way (through the `metrics` facade, like the
//! rest of the broker): what operators of Kafka's group coordinator watch.

/// Which group protocol a figure is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Protocol {
    Classic,
    Consumer,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Classic => "classic",
            Protocol::Consumer => "consumer",
        }
    }
}

/// A rebalance started: a classic group entered PreparingRebalance, or a consumer group's
/// epoch was bumped (a new target assignment).
pub(crate) fn rebalance(protocol: Protocol) {
    metrics::counter!("strata_group_rebalances_total", "protocol" => protocol.label()).increment(1);
}

/// A member was removed because its session (or, KIP-848, its revocation) timed out.
pub(crate) fn member_expired(protocol: Protocol) {
    metrics::counter!("strata_group_members_expired_total", "protocol" => protocol.label())
        .increment(1);
}

/// Offsets were committed (written to `__consumer_offsets` and applied).
pub(crate) fn offsets_committed(count: usize) {
    metrics::counter!("strata_group_offset_commits_total").increment(count as u64);
}

/// Offsets were removed by `offsets.retention.minutes`.
pub(crate) fn offsets_expired(count: usize) {
    metrics::counter!("strata_group_offsets_expired_total").increment(count as u64);
}

/// Registers the help text of the coordinator's metrics.
pub(crate) fn describe() {
    use metrics::describe_counter;
    describe_counter!(
        "strata_group_rebalances_total",
        "Rebalances started, by group protocol."
    );
    describe_counter!(
        "strata_group_members_expired_total",
        "Members removed because their session or revocation timed out, by group protocol."
    );
    describe_counter!("strata_group_offset_commits_total", "Offsets committed.");
    describe_counter!(
        "strata_group_offsets_expired_total",
        "Committed offsets removed by offsets.retention.minutes."
    );
}
