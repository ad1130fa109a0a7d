"""The audit log, read by supervisors and admins (`GET /v1/audit`); the trail itself is
written by `trust.audit`.

A feature: it may import the infrastructure and `models`, never another feature's routes."""
