"""Agencies, the tenants: creating them, their settings, and their API tokens (from the
command line).

A feature: it may import the infrastructure (`web`, `live`, `trust`, `store`), `dispatch`,
`models` and other features' operations, never their routes."""
