"""Outcomes: a call's structured close, its follow-up, and the figures a programme
reports (`routes`, `operations`, `close`, `follow_up`, `reports`).

A feature below `calls` and `assignments`, whose close paths record the close here: it
may import the infrastructure, `dispatch`, `models` and the operations of `rules`,
`resources`, `dispatching` and `agencies`, never routes, and never `calls` or
`assignments`."""
