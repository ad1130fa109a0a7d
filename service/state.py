"""The resources one app runs on, built in its lifespan from one `Settings`."""

from dataclasses import dataclass

from sqlalchemy import Engine

from service.bus import Bus
from service.dispatching import DispatchConfig
from service.hub import Hub
from service.metrics import Metrics
from service.settings import Settings
from service.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: Engine
    bus: Bus
    uow: UnitOfWork
    hub: Hub
    dispatch: DispatchConfig
    metrics: Metrics
