"""Live: the bus, the hub and the timers: committed events reach consoles in order, and
deadlines stored in the database are acted on.

It may import `trust`, `store`, `models` and the shared modules; the app registers the
features' work on timers, so nothing here imports a feature."""
