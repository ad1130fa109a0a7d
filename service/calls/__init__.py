"""Calls: intake (a plan, then offers), reading, cancelling and closing (`routes`, and
`operations`, one transaction each).

A feature: it may import the infrastructure, `dispatch`, `models` and other features'
operations (`agencies`, `dispatching`), never their routes."""
