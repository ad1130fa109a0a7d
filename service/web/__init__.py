"""What every feature's routes share: typed dependencies and the app's state, the run-once
(idempotent) wrapper, error handlers and responses, body and rate limits, the audit of
refusals, and the health probes.

It may import `live`, `trust`, `store`, `dispatch`, `models` and the shared modules; never
a feature (the app mounts the features' routers)."""
