"""Before `serve` listens: refuse an address it cannot have, plainly, and say where to go."""

import errno
import socket

import click


def refuse_a_taken_port(host: str, port: int) -> None:
    """Say plainly that the address cannot be had, and how to choose another, before
    uvicorn would fail with a bare 'address already in use' or a traceback."""
    exc = _cannot_bind(host, port)
    if exc is None:
        return
    if exc.errno == errno.EADDRINUSE:
        raise click.ClickException(
            f"port {port} on {host} is in use, by another `corespond serve` "
            "(`make run`) or another program. Stop it, or serve on another port: "
            f"CORESPOND_PORT={port + 1} make run (or `corespond serve --port "
            f"{port + 1}`)"
        )
    raise click.ClickException(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
        "check CORESPOND_HOST and CORESPOND_PORT"
    )


def refuse_a_taken_metrics_port(host: str, port: int) -> None:
    """The same for the metrics listener (none if its port is 0), which the app opens
    as it starts: a replica beside another on one host needs a port of its own."""
    exc = _cannot_bind(host, port) if port else None
    if exc is None:
        return
    if exc.errno == errno.EADDRINUSE:
        raise click.ClickException(
            f"metrics port {port} on {host} is in use, by another `corespond serve` (each "
            "replica on a host needs its own) or another program. Serve metrics on another "
            f"port: CORESPOND_METRICS_PORT={port + 1}, or CORESPOND_METRICS_PORT=0 for none"
        )
    raise click.ClickException(
        f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
        "check CORESPOND_METRICS_HOST and CORESPOND_METRICS_PORT"
    )


def _cannot_bind(host: str, port: int) -> OSError | None:
    """Why `host:port` cannot be listened on now, or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def where_to_go(host: str, port: int) -> str:
    """The banner `serve` prints: an address a browser on this machine can open."""
    browsable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    browsable = f"[{browsable}]" if ":" in browsable else browsable
    return (
        f"CoRespond on http://{browsable}:{port}/ : the console at /console, the API at /docs.\n"
        "No agency yet? `corespond demo` (from a checkout, `.venv/bin/corespond demo`) in "
        "another terminal seeds one."
    )
