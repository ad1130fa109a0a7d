"""The dispatch decisions, pure: plain values in, plain values out.

Nothing here touches a database, a socket or FastAPI, so every rule can be read,
tested and benchmarked on its own.
"""
