"""The resources one app runs on, built in its lifespan from one `Settings`."""

from dataclasses import dataclass

from sqlalchemy import Engine

from dispatch.config import DispatchConfig
from service.live.bus import Bus
from service.live.hub import Hub
from service.metrics import Metrics
from service.settings import Settings
from service.store.unit_of_work import UnitOfWork
from service.web.rate_limit import AuthFailures, TokenRoles


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: Engine
    bus: Bus
    uow: UnitOfWork
    hub: Hub
    dispatch: DispatchConfig
    metrics: Metrics
    auth_failures: AuthFailures
    token_roles: TokenRoles
