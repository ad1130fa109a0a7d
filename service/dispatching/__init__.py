"""Where the pure decisions of `dispatch` meet the database: candidates read, responders
reserved, offers made, waiting calls re-planned, assignments moved and each call's
status kept in step. Operations only: the features with routes call them.

It may import the infrastructure, `dispatch`, `models` and `agencies`' operations."""
