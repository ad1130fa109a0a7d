"""Programme rules: each agency's programme, version by version; the plan it gives each
call, its fallbacks (run by the timers) and the ledger of the calls it did not serve.

It may import the infrastructure, `dispatch`, `models`, `dispatching` and `agencies`."""
