"""Trust: tokens and who they act for, who may do what and see what, the audit trail,
idempotent answers.

It may import `store`, `models` and the shared modules; never `live`, `web` or a feature."""
