"""Signed webhooks: an agency's endpoints get its events, in order, once, from the event
log as the outbox (`routes`, `operations`). The deliveries run in a process of their
own (`delivery` and `process` in the serving process, `channel` between them;
`spawned`, its light entry point, then `child`, `deliverer`, `run`, `outbox`, `tail`,
`courier`, `connection`, `addresses`, `signing` and `delivery_log` in the delivery
process).

A feature at the top, beside `sta024`: it may import the infrastructure (`store`,
`trust`, `live`, `web`) and `models`, never another feature."""
