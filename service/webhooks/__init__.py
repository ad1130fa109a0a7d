"""Signed webhooks: an agency's endpoints get its events, in order, once, from the event
log as the outbox (`routes`, `operations`, and the delivery loop).

A feature: it may import the infrastructure and `models`, never other features' routes."""
