"""Assignments: answering offers, progress to the scene and clearing, and offers that
expire (`routes`, and `operations`, one transaction each).

A feature: it may import the infrastructure, `dispatch`, `models` and other features'
operations (`agencies`, `calls`, `dispatching`), never their routes."""
