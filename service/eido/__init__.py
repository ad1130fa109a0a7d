"""NENA EIDO (NENA-STA-021) in and out: a CAD's incident becomes a call, and a call is
answered as an incident (`routes`, and `operations`).

A feature: it may import the infrastructure, `dispatch`, `models` and other features'
operations (`calls`, `assignments`, `agencies`, `dispatching`), never their routes."""
