"""The FastAPI app: `create_app` builds it; its lifespan builds the resources."""

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI
from prometheus_client import start_http_server

from dispatch.config import DispatchConfig
from dispatch.ranking import Preferences
from dispatch.travel import GeodesicEstimator
from service.agencies import routes as agency
from service.assignments import routes as assignments
from service.assignments.operations import expire_due_offers, route_due_offers
from service.audit_log import routes as audit
from service.calls import routes as calls
from service.checkins import routes as checkins
from service.checkins.timers import pass_checkin_deadlines
from service.consoles import routes as console
from service.consoles import socket as ws
from service.contacts.operations import forget_old_contacts
from service.dispatching.waiting import replan_when_due, route_waiting
from service.eido import routes as eido
from service.emergencies import routes as emergencies
from service.emergencies.top_up import top_up_backup
from service.live.bus import Bus, make_bus
from service.live.events import record_acks
from service.live.hub import Hub
from service.live.timers import (
    Deadlines,
    close_lapsed_consoles_forever,
    keep_house_forever,
    pass_deadlines_forever,
    store_acks_forever,
    watch_loop_lag_forever,
)
from service.logs import configure_logging
from service.metrics import Metrics
from service.outcomes import report_routes as outcome_reports
from service.outcomes import routes as outcomes
from service.outcomes.operations import record_if_referred
from service.resources import routes as resources
from service.responders import routes as responders
from service.routing.configured import road_times
from service.rules import routes as rules
from service.rules.fallback import fall_back_when_due, route_due_fallbacks
from service.settings import Settings
from service.sta024 import routes as sta024
from service.sta024.builder import close_builder
from service.store.engine import make_engine
from service.store.unit_of_work import UnitOfWork
from service.web import handlers, health
from service.web.audit_refusals import AuditRefusals
from service.web.body_limit import BodyLimit
from service.web.rate_limit import AuthFailures, RateLimit, TokenRoles, limit_storage
from service.web.state import AppState
from service.webhooks import routes as webhooks
from service.webhooks.delivery import deliver_forever

LOOP_LAG_INTERVAL_S = 0.1  # ten wakes a second: a stall of the loop shows within 0.1 s


def _collect_garbage_in_small_steps() -> None:
    """Keep Python's full garbage collections off the event loop's back.

    Each full collection walks every tracked object in the process and stops the
    event loop meanwhile: under load (1,000 consoles, 40 calls a second) that was
    7 stops of 70-250 ms in 30 s, and they were the 99th percentile (bench/HISTORY.md).
    What start-up made (modules, mappers, schemas: ~160,000 objects) is frozen out
    of every collection, and the youngest generation is larger, so short-lived
    objects die before a collection promotes them and full collections become rare.
    """
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def serve_metrics(settings: Settings, metrics: Metrics) -> WSGIServer | None:
    """Prometheus exposition on a listener of its own (`CORESPOND_METRICS_HOST`,
    `CORESPOND_METRICS_PORT`; none if the port is 0), in a thread of this process.

    Not on the API's port: the metrics need no token and say how busy the service is,
    so they are for whoever may reach this listener (loopback by default), not for
    whoever may reach the API. Raises RuntimeError, saying which setting to change,
    if the address cannot be had (`corespond serve` checks it before it starts).
    """
    if settings.metrics_port == 0:
        return None
    try:
        listener, _ = start_http_server(
            settings.metrics_port, settings.metrics_host, registry=metrics.registry
        )
    except OSError as exc:
        raise RuntimeError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: "
            f"{exc.strerror or exc}; choose another CORESPOND_METRICS_PORT (each replica on "
            "a host needs its own), or 0 for none"
        ) from None
    return listener


def _read_bus_when_scraped(metrics: Metrics, bus: Bus) -> None:
    """The bus's gauges are read from it when scraped (from the listener's thread: plain
    attribute reads)."""
    metrics.bus_up.set_function(lambda: 1.0 if getattr(bus, "up", True) else 0.0)
    metrics.bus_send_failures.set_function(lambda: float(getattr(bus, "send_failures", 0)))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service as an ASGI app (for `uvicorn --factory service.app:create_app`)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    # One storage for both limits: in Redis, every replica counts the same tokens and
    # the same addresses.
    limits = limit_storage(settings.rate_limit_storage)
    auth_failures = AuthFailures(settings.auth_fail_limit, limits)
    token_roles = TokenRoles()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = Metrics()
        # First, so a taken metrics port stops the start before anything is opened.
        metrics_listener = serve_metrics(settings, metrics)
        roads = road_times(
            settings.routing,
            timeout_s=settings.routing_timeout_s,
            snap_limit_m=settings.routing_snap_limit_m,
            fastest_mps=settings.routing_fastest_mps,
        )
        engine = make_engine(settings)
        # On SQLite writes and the token check run on the event loop through an engine
        # that never waits for the file's lock (see UnitOfWork).
        loop_engine = make_engine(settings, lock_wait_s=0) if settings.is_sqlite else None
        bus = make_bus(settings.bus_url)
        await bus.connect()
        _read_bus_when_scraped(metrics, bus)
        # One writer at a time in this process, on every backend: the event
        # counter's row lock orders commits, and the lock makes publishing
        # follow the same order, so this replica publishes seqs in order.
        uow = UnitOfWork(
            engine,
            bus,
            serialize_writes=True,
            loop_engine=loop_engine,
            on_commit=metrics.committed,
            observe_write=metrics.write_seconds.observe,
            observe_batch=metrics.batch_committed,
            observe_work=metrics.write_work_seconds.observe,
        )
        hub = Hub(
            bus,
            metrics,
            uow,
            gap_wait_s=settings.hub_gap_wait_s,
            log_check_s=settings.hub_log_check_s,
        )
        app.state.corespond = AppState(
            settings=settings,
            engine=engine,
            bus=bus,
            uow=uow,
            hub=hub,
            dispatch=DispatchConfig(
                estimator=GeodesicEstimator(circuity=settings.road_circuity),
                roads=roads,
                routing_timeout_s=settings.routing_timeout_s,
                prefs=Preferences(
                    language_penalty_s=settings.language_penalty_s,
                    skill_penalty_s=settings.skill_penalty_s,
                ),
                observe_decision=metrics.decision_seconds.observe,
                observe_routing=metrics.routing_seconds.observe,
                routing_failed=lambda _why: metrics.routing_fallbacks.inc(),
                repeat_window_days=settings.repeat_contact_days,
                person_key=settings.person_key.get_secret_value(),
            ),
            metrics=metrics,
            auth_failures=auth_failures,
            token_roles=token_roles,
        )
        state: AppState = app.state.corespond

        dispatch = state.dispatch
        deadlines = [
            Deadlines(
                "offer-expiry",
                functools.partial(expire_due_offers, config=dispatch),
                functools.partial(route_due_offers, roads=roads, config=dispatch)
                if roads is not None
                else None,
            ),
            Deadlines(
                "fallbacks",
                functools.partial(fall_back_when_due, config=dispatch, referred=record_if_referred),
                functools.partial(route_due_fallbacks, roads=roads, config=dispatch)
                if roads is not None
                else None,
            ),
            Deadlines("checkins", functools.partial(pass_checkin_deadlines, config=dispatch)),
            Deadlines("emergency-backup", functools.partial(top_up_backup, config=dispatch)),
        ]
        if roads is not None:
            deadlines.append(
                Deadlines(
                    "waiting-calls",
                    functools.partial(replan_when_due, config=dispatch),
                    functools.partial(route_waiting, roads=roads, config=dispatch),
                )
            )
        tasks = [
            asyncio.create_task(hub.run(), name="hub"),
            asyncio.create_task(
                pass_deadlines_forever(state.uow, deadlines, interval_s=settings.timer_interval_s),
                name="deadlines",
            ),
            asyncio.create_task(
                keep_house_forever(
                    state.uow,
                    event_retention=timedelta(days=settings.event_retention_days),
                    audit_retention=timedelta(days=settings.audit_retention_days),
                    features=[(forget_old_contacts, timedelta(days=settings.repeat_contact_days))],
                ),
                name="housekeeping",
            ),
            asyncio.create_task(store_acks_forever(state.uow, hub), name="acks"),
            asyncio.create_task(
                close_lapsed_consoles_forever(state.uow, hub, settings.token_check_interval_s),
                name="token-check",
            ),
            asyncio.create_task(deliver_forever(state), name="webhooks"),
            asyncio.create_task(
                watch_loop_lag_forever(metrics.loop_lag.observe, LOOP_LAG_INTERVAL_S),
                name="loop-lag",
            ),
        ]
        _collect_garbage_in_small_steps()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.uow.write(record_acks, acks=hub.take_acks())
            await state.uow.aclose()
            await bus.disconnect()
            close_builder(app.state)  # STA-024's worker process, if subscriptions started it
            close = getattr(roads, "close", None)  # a routing server's client holds connections
            if close is not None:
                close()
            engine.dispose()
            if loop_engine is not None:
                loop_engine.dispose()
            if metrics_listener is not None:
                await asyncio.to_thread(metrics_listener.shutdown)
                metrics_listener.server_close()

    app = FastAPI(
        title="CoRespond",
        version="0.1.0",
        summary="Dispatch for behavioural-health calls: CIT officers and clinicians, live.",
        lifespan=lifespan,
        # Served from vendored files by the consoles feature instead of from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    handlers.install(app)
    for module in (
        calls,
        responders,
        assignments,
        audit,
        rules,
        outcomes,
        outcome_reports,
        resources,
        eido,
        emergencies,
        webhooks,
        sta024,
        ws,
        health,
        console,
        agency,
        checkins,
    ):
        app.include_router(module.router)
    app.mount("/console/static", console.static, name="console-static")
    # The outer middleware runs first: a flood is turned away before it costs an audit write.
    app.add_middleware(AuditRefusals)
    app.add_middleware(
        BodyLimit,
        max_body_bytes=settings.max_body_bytes,
        larger={"/v1/responders/positions": settings.max_position_batch_bytes},
    )
    app.add_middleware(
        RateLimit,
        rate_limit=settings.rate_limit,
        by_role=settings.rate_limit_by_role,
        roles=token_roles,
        storage=limits,
    )
    return app
