"""The store, at the bottom: the engine, the unit of work (one transaction a request,
its events sealed with it), prepared statements and migrations.

It imports only `models` and the shared modules (settings, errors); nothing above it."""
