"""Community resources: an agency's directory of places people are referred to, with
hours and live capacity, and the nearest open ones that fit a call (`routes`,
`operations`).

A feature below `rules` and above `dispatching`: it may import the infrastructure,
`dispatch`, `models` and the operations of `dispatching` and `agencies`, never routes."""
