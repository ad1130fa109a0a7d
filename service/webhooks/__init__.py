"""Signed webhooks: an agency's endpoints get its events, in order, once, from the event
log as the outbox (`routes`, `operations`; the delivery loop `delivery`, with `outbox`,
`tail`, `courier`, `connection`, `addresses`, `signing` and `delivery_log`).

A feature at the top, beside `sta024`: it may import the infrastructure (`store`,
`trust`, `live`, `web`) and `models`, never another feature."""
