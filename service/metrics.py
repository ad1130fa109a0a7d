"""Prometheus metrics, one registry per app so several apps can share a process."""

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from models.event import EventMessage

# How long something on the way of a call took or waited, from half a millisecond
# (a write's work) to seconds (a write queued behind an overloaded loop).
_WAITS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("corespond_calls_created", "Calls taken in.", registry=self.registry)
        self.intake_seconds = self._histogram(
            "corespond_call_intake_seconds",
            "From a POST /v1/calls (or a new incident's POST /v1/eido) arriving to its commit.",
            (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.consoles = Gauge(
            "corespond_consoles_connected", "WebSocket consoles connected.", registry=self.registry
        )
        self.offers = Counter(
            "corespond_offers", "Offers made to responders.", registry=self.registry
        )
        self.events = Counter(
            "corespond_events_committed",
            "Events committed by this replica, by type.",
            ["type"],
            registry=self.registry,
        )
        self.decision_seconds = self._histogram(
            "corespond_dispatch_decision_seconds",
            "Choosing one responder for one role (search, ranking), without the writes.",
            (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
        )
        self.routing_seconds = self._histogram(
            "corespond_routing_seconds",
            "Road travel asked for one call, before its write (every seat's ranking).",
            (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5),
        )
        self.routing_fallbacks = Counter(
            "corespond_routing_fallbacks",
            "Calls whose road routing failed (down, too slow, off the network): "
            "ranked by the straight-line estimate instead.",
            registry=self.registry,
        )
        self.time_to_accept = self._histogram(
            "corespond_time_to_accept_seconds",
            "From an offer to the responder accepting it.",
            (1, 5, 10, 20, 30, 45, 60, 90, 120, 300),
        )
        self.bus_lag = self._histogram(
            "corespond_bus_lag_seconds",
            "From another replica publishing a batch to this replica receiving it.",
            (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
        )
        self.bus_up = Gauge(
            "corespond_bus_up", "1 while the bus subscription is up.", registry=self.registry
        )
        self.bus_send_failures = Gauge(
            "corespond_bus_send_failures",
            "Batches the bus could not send (other replicas read them from the log).",
            registry=self.registry,
        )
        self.hub_log_reads = Counter(
            "corespond_hub_log_reads",
            "Times the hub read events from the log: out of order, late or lost on the bus.",
            registry=self.registry,
        )
        self.write_seconds = self._histogram(
            "corespond_write_seconds",
            "From a write being asked for to its answer: waiting for the write turn, the"
            " work, the commit (on SQLite, of the batch it ran in).",
            _WAITS,
        )
        self.write_work_seconds = self._histogram(
            "corespond_write_work_seconds",
            "A write's own work, before its commit: its statements and decisions, not"
            " waiting for its turn, the loop's other work, or the commit.",
            _WAITS,
        )
        self.write_batch_size = self._histogram(
            "corespond_write_batch_size",
            "Writes committed together in one transaction by the event loop's writer (SQLite).",
            (1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.write_batch_seconds = self._histogram(
            "corespond_write_batch_seconds",
            "How long a batch held the write turn, from its BEGIN to its COMMIT's end (SQLite).",
            _WAITS,
        )
        self.loop_lag = self._histogram(
            "corespond_event_loop_lag_seconds",
            "How late the event loop ran a timer it had been asked for: every socket and"
            " request waits that long as well.",
            _WAITS,
        )
        self.consoles_dropped = Counter(
            "corespond_consoles_dropped_slow",
            "Consoles closed because they did not keep up.",
            registry=self.registry,
        )

    def _histogram(self, name: str, documentation: str, buckets: Sequence[float]) -> Histogram:
        return Histogram(name, documentation, buckets=buckets, registry=self.registry)

    def batch_committed(self, size: int, seconds: float) -> None:
        """Count a batch of the loop's writer: how many writes, how long it held the turn."""
        self.write_batch_size.observe(size)
        self.write_batch_seconds.observe(seconds)

    def committed(self, events: Sequence[EventMessage]) -> None:
        """Count what a transaction of this replica committed."""
        for event in events:
            self.events.labels(event.type).inc()
            if event.type == "assignment.offered":
                self.offers.inc()
            elif event.type == "assignment.accepted":
                assignment = event.data.get("assignment", {})
                offered, accepted = assignment.get("offered_at"), assignment.get("accepted_at")
                if offered and accepted:
                    waited = datetime.fromisoformat(accepted) - datetime.fromisoformat(offered)
                    self.time_to_accept.observe(waited.total_seconds())


def samples(text: str) -> dict[str, float]:
    """What /metrics said, by sample name: the samples without labels, and each
    histogram bucket as `<name>_bucket{<le>}` (for the tests and the benchmarks)."""
    return {
        sample.name + (f"{{{sample.labels['le']}}}" if "le" in sample.labels else ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not set(sample.labels) - {"le"}
    }
