"""Responders: registering them, their positions and their availability (`routes`, and
`operations`, one transaction each).

A feature: it may import the infrastructure, `dispatch`, `models` and other features'
operations (`dispatching`), never their routes."""
