"""Prometheus metrics, one registry per app so several apps can share a process."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("corespond_calls_created", "Calls taken in.", registry=self.registry)
        self.intake_seconds = Histogram(
            "corespond_call_intake_seconds",
            "From a POST /v1/calls arriving to its commit.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.consoles = Gauge(
            "corespond_consoles_connected", "WebSocket consoles connected.", registry=self.registry
        )
        self.consoles_dropped = Counter(
            "corespond_consoles_dropped_slow",
            "Consoles closed because they did not keep up.",
            registry=self.registry,
        )
