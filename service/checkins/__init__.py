"""Check-in timers for responders on scene (issue 23): the prompt when the agency's
interval runs out, the alarm when it is missed, the agency's rule after the grace.

May import: models, dispatch, and the service rooms below it in the layers contract
(assignments, calls, dispatching, agencies, web, live, trust, store, and the top-level
shared modules).
"""
