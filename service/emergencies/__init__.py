"""A responder's emergency (issue 23): raised from a console, HTTP or the socket; shown at
once to every dispatcher and supervisor of the agency; backup offered to the nearest
available CIT officers ahead of every other call; closed only by staff (a dispatcher,
a supervisor or an admin).

routes.py (the HTTP routes), raising.py, closing.py, operations.py (read, list, who),
backup.py (the offers and the emergency call), top_up.py (the timer keeping backup up),
positions.py (a responder's own position, for the socket).

May import: models, dispatch, and the service rooms below it in the layers contract
(assignments, calls, dispatching, agencies, web, live, trust, store, and the top-level
shared modules).
"""
