"""Repeat contacts without a registry of people: a call's person as keyed hashes and its
place as a cell, counted against a window's earlier calls (`operations`).

A feature below `calls` (intake counts and files a call's keys) and `agencies` (a new
agency gets its secret): it may import the infrastructure and `models` only."""
