"""The audit log, read by supervisors and admins (`GET /v1/audit`) and, whole, by the
server's operator (`corespond audit list`); the trail itself is written by `trust.audit`.

A feature: it may import the infrastructure, `models` and the agencies' operations,
never another feature's routes."""
