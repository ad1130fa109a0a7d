"""The running service: infrastructure in layers, the domain by feature.

From the bottom: the shared modules here (`settings`, `errors`, `logs`, `metrics`, and
`priority`, where the background processes stand), then `store`, `trust`, `live` and
`web`; above them one folder a feature (`calls`, `assignments`, `responders`,
`agencies`, `dispatching`, `consoles`, `audit_log`); on top `app` (the assembly) and
`cli`. A module imports only what lies below it, and no
import goes round in a cycle (docs/architecture.md; tests/test_layers.py checks).
"""
