"""All configuration, from `CORESPOND_*` environment variables."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.vocabulary import Role

BUS_SCHEMES = ("memory", "redis", "rediss", "postgres", "postgresql")


def check_bus_url(url: str) -> str:
    """`url` if some bus speaks it; ValueError saying which do."""
    if url.partition("://")[0] not in BUS_SCHEMES:
        raise ValueError(f"unsupported bus URL {url!r}: use memory://, redis://… or postgres://…")
    return url


# A CAD reports every unit's position: a fleet of 2,000 every 5 s is 24,000 a minute,
# and may arrive at once, with its calls, roster changes and reads beside it.
CAD_RATE_LIMIT = "2500/second;40000/minute"

GEODESIC = "geodesic"
ROUTING_SERVERS = ("osrm+http://", "osrm+https://", "valhalla+http://", "valhalla+https://")


def check_routing(value: str) -> str:
    """`value` if it names a travel estimator: `geodesic`, a routing server's URL, or a
    graph file that exists; ValueError saying which are possible."""
    if value == GEODESIC or value.startswith(ROUTING_SERVERS):
        return value
    if "://" in value:
        raise ValueError(
            f"unsupported routing {value!r}: use geodesic, osrm+http://host:port, "
            "valhalla+http://host:port, or the path of a graph made by `corespond roads build`"
        )
    if not Path(value).is_file():
        raise ValueError(
            f"no road graph at {value!r}: build one with `corespond roads build <extract> "
            "--out <file>`, or set CORESPOND_ROUTING=geodesic"
        )
    return value


def check_storage_url(url: str) -> str:
    """`url` if the rate limit's counts can be kept there; ValueError saying where."""
    if not url.startswith(("memory://", "redis://", "rediss://")):
        raise ValueError(f"unsupported rate-limit storage {url!r}: use memory:// or redis://…")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORESPOND_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./corespond.db",
        description="SQLAlchemy URL; the embedded default is a SQLite file beside you.",
    )
    bus_url: str = Field(
        default="memory://",
        description="Where events are published: memory:// (one process), "
        "redis://host:6379/0 or postgres://user@host/db (several replicas); "
        "`?channel=` names the channel.",
    )
    hub_gap_wait_s: float = Field(
        default=0.05,
        gt=0,
        description="How long an event from another replica that arrived ahead of an "
        "earlier one waits for it before the hub reads the gap from the log.",
    )
    hub_log_check_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the hub checks the log for events the bus did not bring.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL survives a power cut; NORMAL survives only a process crash.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to open the WebSocket; empty: same host only.",
    )
    ws_queue_size: int = Field(
        default=1000, description="Events buffered for one console before it is closed."
    )
    ws_hello_timeout_s: float = 10.0
    ws_ping_interval_s: float = Field(
        default=20.0, description="How often the server pings each console."
    )
    ws_ping_timeout_s: float = Field(
        default=20.0, description="A console that does not answer a ping in time is dropped."
    )
    timer_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often offer and fallback deadlines are checked, in seconds.",
    )
    event_retention_days: int = Field(
        default=90, ge=1, description="How long the event log keeps events for resume."
    )
    audit_retention_days: int = Field(
        default=365, ge=1, description="How long audit records are kept."
    )
    token_ttl_days: int = Field(
        default=90, ge=1, description="A new token's lifetime unless `token create` says."
    )
    token_check_interval_s: float = Field(
        default=2.0, gt=0, description="How often open consoles' tokens are re-checked."
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger request bodies are refused with 413."
    )
    max_position_batch_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="The body limit of `PUT /v1/responders/positions` (1,000 reports fit).",
    )
    rate_limit: str = Field(
        default="100/second;3000/minute",
        description="Requests per token (or per address without one) before 429; "
        "the `limits` library's notation.",
    )
    rate_limit_by_role: dict[Role, str] = Field(
        default_factory=lambda: {Role.cad: CAD_RATE_LIMIT},
        description="A role's own rate in place of `rate_limit`, as JSON "
        '(`{"cad": "2500/second;40000/minute"}`): a CAD reports a whole fleet\'s positions.',
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where request counts are kept: memory:// (each replica its own) or "
        "redis://host:6379/0 (one limit shared by every replica).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto are trusted (TLS in front).",
    )
    console_tile_url: str = Field(
        default="",
        description="Map tiles for the web console (`https://…/{z}/{x}/{y}.png`); "
        "empty: the map draws the service areas and a scale, offline.",
    )
    console_tile_attribution: str = Field(
        default="",
        max_length=300,
        description="The credit the tile provider requires (e.g. `© OpenStreetMap "
        "contributors`), shown on the map; empty: the tiles' host is named.",
    )
    gil_switch_interval_s: float = Field(
        default=0.0005,
        gt=0,
        description="Python's thread switch interval for `corespond serve` (see cli.serve).",
    )
    auth_fail_limit: str = Field(
        default="60/minute",
        description="Failed logons (unknown, expired or revoked tokens, or none) per client "
        "address before 429; kept where CORESPOND_RATE_LIMIT_STORAGE says.",
    )
    metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Prometheus metrics on a listener of their own; 0: not served.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Where the metrics listener binds (loopback)."
    )
    ws_max_per_token: int = Field(
        default=20, ge=1, description="Consoles open at once on one token (each replica)."
    )
    ws_max_per_address: int = Field(
        default=2000, ge=1, description="Sockets open at once from one client address."
    )
    ws_max_waiting_per_address: int = Field(
        default=50,
        ge=1,
        description="Sockets from one client address still waiting to say hello.",
    )
    ws_messages_per_s: float = Field(
        default=20.0,
        gt=0,
        description="Messages one console may send a second (as many at once); acks are free.",
    )
    language_penalty_s: float = 300.0
    skill_penalty_s: float = 120.0
    road_circuity: float = 1.3
    routing: str = Field(
        default="geodesic",
        description="How travel is estimated: `geodesic` (straight line, the default), "
        "the path of a graph file made by `corespond roads build`, or an "
        "`osrm+http://host:port` / `valhalla+http://host:port` routing server.",
    )
    routing_timeout_s: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description="The longest a dispatch waits on routing before it falls back to the "
        "straight-line estimate for that call.",
    )
    routing_snap_limit_m: float = Field(
        default=1_000.0,
        gt=0,
        description="A point farther than this from any road is off the network.",
    )
    routing_fastest_mps: float = Field(
        default=36.0,
        gt=0,
        description="A routing server's fastest road (m/s; 36 is 130 km/h): the search's "
        "lower bound. An embedded graph knows its own.",
    )
    repeat_contact_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="A new call shows the earlier calls at its person or place within this "
        "many days; older keys are dropped, so a flag expires with its window.",
    )
    person_key: SecretStr = Field(
        default=SecretStr(""),
        description="The server's key over each agency's secret for hashing the persons a "
        "CAD names (any long random string; the same on every replica). Set it, and a "
        "copy of the database alone cannot test guesses of names and birthdays.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach plain http://, loopback, private and link-local "
        "addresses (development and tests only: a webhook must not reach the service's network).",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="How long one webhook delivery may take."
    )
    webhook_give_up_h: float = Field(
        default=24.0,
        gt=0,
        description="An endpoint failing for this long is disabled (its deliveries keep "
        "being retried until then).",
    )

    # The bus and the rate limit check their URLs with these same functions, so the
    # settings and the code that uses them can never disagree.
    _a_bus = field_validator("bus_url")(staticmethod(check_bus_url))
    _a_storage = field_validator("rate_limit_storage")(staticmethod(check_storage_url))
    _a_routing = field_validator("routing")(staticmethod(check_routing))

    @field_validator("rate_limit", "auth_fail_limit")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_many(value)  # raises ValueError, naming what it could not read
        return value

    @field_validator("rate_limit_by_role")
    @classmethod
    def _rates(cls, value: dict[Role, str]) -> dict[Role, str]:
        for role, rate in value.items():
            try:
                parse_many(rate)
            except ValueError as exc:
                raise ValueError(f"the {role} role's rate: {exc}") from None
        return value

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
