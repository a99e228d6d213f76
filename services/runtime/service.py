"""The one HTTP + Kafka app factory every service runs on, and the ``Runtime`` it hands out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.telemetry import TelemetryConfig
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CollectorRegistry

from contracts.envelope import Envelope, EventAttributes
from services.runtime import outbox, tracing
from services.runtime.access import AccessLog
from services.runtime.auth import KEYS_CHANNEL, KeyCache
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer, subscribe
from services.runtime.db import Connection, create_pool, migrate
from services.runtime.deadletter import DeadLetters
from services.runtime.edge import EdgeGuard
from services.runtime.errors import install_error_handlers
from services.runtime.kafka import create_broker, start_when_available
from services.runtime.lag import KafkaOffsets
from services.runtime.metrics import exposition
from services.runtime.openapi import install_problem_documentation
from services.runtime.periodic import cancel_task
from services.runtime.producer import HealingProducer
from services.runtime.settings import ServiceSettings
from services.runtime.signal import PgSignal, channel_name
from services.runtime.unit_of_work import SettingsT, StoreT, UnitOfWork, in_postgres, in_snapshot, outbox_channel

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
AUTH_MIGRATIONS = Path(__file__).parent / "auth_migrations"


@dataclass
class Runtime(Generic[SettingsT]):
    """What a running service holds: its settings, clock, database pools, broker and metrics."""

    settings: SettingsT
    clock: Clock
    pool: asyncpg.Pool
    auth_pool: asyncpg.Pool
    broker: KafkaBroker
    registry: CollectorRegistry
    dead_letters: DeadLetters
    outbox_channel: str
    producer: HealingProducer
    relay: outbox.OutboxRelay | None = None
    # Who the keys of recent requests act for; None: every request looks its key up.
    keys: KeyCache | None = None

    def now(self) -> datetime:
        return self.clock.now()

    @contextlib.asynccontextmanager
    async def work(
        self, store: Callable[[Connection], StoreT], *, cause: EventAttributes | None = None
    ) -> AsyncIterator[UnitOfWork[StoreT, SettingsT]]:
        """One command's unit of work in one transaction; its events reach the outbox on commit."""
        wake_relay = self.relay.wake if self.relay else None
        async with in_postgres(self.pool, store, self.settings, self.clock.now(), cause, wake_relay=wake_relay) as uow:
            yield uow

    @contextlib.asynccontextmanager
    async def reading(self, store: Callable[[Connection], StoreT]) -> AsyncIterator[UnitOfWork[StoreT, SettingsT]]:
        """A view's reads on one snapshot of the database, in a read-only transaction."""
        async with in_snapshot(self.pool, store, self.settings, self.clock.now()) as uow:
            yield uow

    async def kafka_ready(self) -> bool:
        try:
            return await self.broker.ping(timeout=2)
        except Exception:
            return False


def runtime_of(request: Request) -> Runtime[Any]:
    """The running service's ``Runtime``, for a route handler."""
    return request.app.state.runtime


Hook = Callable[[FastAPI, Runtime[Any]], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What a service adds to the runtime; its ``app.py`` builds one and calls ``create_app``."""

    settings: ServiceSettings
    title: str
    description: str
    migrations: Path | None = None
    routers: Sequence[APIRouter] = ()
    consumers: Callable[[FastAPI, Runtime[Any]], Sequence[Consumer[Any]]] = lambda _app, _runtime: ()
    # Topics this service writes, documented in its AsyncAPI page.
    publishes: Sequence[str] = ()
    on_start: Hook | None = None
    on_stop: Hook | None = None
    # The service's one clock; a test passes its own to move time instead of waiting for it.
    clock: Clock = field(default_factory=Clock)


async def _open_pools(settings: ServiceSettings) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    pool = await create_pool(settings.database_url, settings.db_schema)
    await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
    same = (settings.auth_database_url, settings.auth_db_schema) == (settings.database_url, settings.db_schema)
    auth_pool = pool if same else await create_pool(settings.auth_database_url, settings.auth_db_schema, max_size=3)
    await migrate(auth_pool, "auth", AUTH_MIGRATIONS)
    return pool, auth_pool


def create_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    registry = CollectorRegistry()
    tracer_provider = tracing.setup(settings.service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool, auth_pool = await _open_pools(settings)
        if spec.migrations:
            await migrate(pool, settings.service, spec.migrations)
        broker = create_broker(settings, registry)
        producer = HealingProducer(
            settings,
            f"schakel-{settings.service}-relay",
            delivery_timeout=settings.publish_timeout_seconds,
        )
        runtime = Runtime(
            settings=settings,
            clock=spec.clock,
            pool=pool,
            auth_pool=auth_pool,
            broker=broker,
            registry=registry,
            dead_letters=DeadLetters(producer, registry),
            outbox_channel=outbox_channel(settings),
            producer=producer,
        )
        keys_signal = PgSignal(settings.auth_database_url, channel_name(KEYS_CHANNEL, settings.auth_db_schema))
        keys_signal.start()
        runtime.keys = KeyCache(auth_pool, keys_signal)
        app.state.runtime = runtime
        if spec.on_start:
            await spec.on_start(app, runtime)
        consumers = list(spec.consumers(app, runtime))
        for consumer in consumers:
            subscribe(broker, consumer, runtime)
        # Lag and dead letters read from Kafka beside the consumers, so a stuck one still shows.
        kafka_offsets = KafkaOffsets(settings, consumers, registry)
        for topic in spec.publishes:
            broker.publisher(
                settings.topic(topic),
                title=topic,
                schema=Envelope,
                description=f"CloudEvents envelopes written by {settings.service}",
            )
        signal = PgSignal(settings.database_url, runtime.outbox_channel)
        signal.start()
        relay = outbox.OutboxRelay(
            pool,
            producer,
            signal,
            registry,
            batch_size=settings.outbox_batch_size,
            lock_name=f"{settings.db_schema}.{settings.service}",
        )
        runtime.relay = relay

        async def connect_kafka() -> None:
            # HTTP serves (and the outbox fills) while Kafka is still coming up.
            await start_when_available(broker, settings)
            log.info("%s connected to Kafka at %s", settings.service, settings.kafka_bootstrap_servers)
            signal.fire()
            kafka_offsets.start()

        # The relay runs from the start, so its backlog gauge is true while Kafka is still away.
        relay.start()

        kafka_task = asyncio.create_task(connect_kafka(), name="kafka-connect")
        try:
            yield
        finally:
            await cancel_task(kafka_task)
            await kafka_offsets.stop()
            await relay.stop()
            if spec.on_stop:
                await spec.on_stop(app, runtime)
            with contextlib.suppress(Exception):
                await broker.stop()
            await producer.stop()
            await signal.stop()
            await keys_signal.stop()
            tracing.flush()
            if auth_pool is not pool:
                await auth_pool.close()
            await pool.close()

    # FastAPI's own telemetry stands aside for OpenTelemetry's instrumentation when exporting; while
    # nothing exports it is off too (``tracing.RequestSpans`` makes the one span needed).
    telemetry: TelemetryConfig | None = None if tracing.exporting() else {"tracing": False}
    app = FastAPI(title=spec.title, description=spec.description, lifespan=lifespan, telemetry=telemetry)
    # Added first, so it runs inside AccessLog: requests refused at the edge are logged and timed too.
    app.add_middleware(EdgeGuard, settings=settings, registry=registry)
    app.add_middleware(AccessLog, registry=registry)  # request id on every line, an access line and latency per request
    # Outermost, so a request refused at the edge is traced too; no bodies and no headers recorded,
    # and the probes Kubernetes and Prometheus make every few seconds are left out. While no span
    # leaves the process, only the request's span is made (the trace its events and logs carry).
    if tracing.exporting():
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=tracer_provider,
            excluded_urls=",".join(p.removeprefix("/") for p in tracing.UNTRACED_PATHS),
            exclude_spans=["receive", "send"],
        )
    else:
        app.add_middleware(tracing.RequestSpans)
    install_error_handlers(app)
    install_problem_documentation(app)
    app.include_router(_operations_router(spec, registry))
    for router in spec.routers:
        app.include_router(router)
    return app


def _operations_router(spec: ServiceSpec, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.settings.service}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL and Kafka both answer",
        responses={
            503: {
                "description": "Not ready: the same body says which of the two does not answer",
                "content": {"application/json": {}},
            }
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime = runtime_of(request)
        try:
            await asyncio.wait_for(runtime.pool.fetchval("SELECT 1"), 2)
            postgres = True
        except Exception:
            postgres = False
        kafka = await runtime.kafka_ready()
        publishing = runtime.relay.status() if runtime.relay else {"publishing": False}
        ready = postgres and kafka and bool(publishing["publishing"])
        # Degraded: requests are still accepted into the outbox, but nothing reaches the bus.
        status = "ready" if ready else "degraded" if postgres else "unavailable"
        return JSONResponse(
            {
                "ready": ready,
                "status": status,
                "postgres": postgres,
                "kafka": kafka,
                **publishing,
                "service": spec.settings.service,
            },
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return exposition(registry)

    @router.get("/asyncapi", summary="AsyncAPI document of the topics this service writes and reads")
    async def asyncapi(request: Request) -> JSONResponse:
        return JSONResponse(asyncapi_document(runtime_of(request).broker, spec.title, spec.description))

    return router


def asyncapi_document(broker: KafkaBroker, title: str, description: str) -> dict[str, Any]:
    """FastStream's AsyncAPI document of ``broker``'s publishers and subscribers, every message an envelope.

    A consumer takes the raw record (so that what does not decode is dead-lettered, not dropped),
    which leaves FastStream no payload type to document: it reads the same envelope that is written.
    """
    document: dict[str, Any] = AsyncAPI(broker, title=title, description=description).to_specification().to_jsonable()
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    empty = {"$ref": "#/components/schemas/EmptyPayload"}
    for message in components.get("messages", {}).values():
        if message.get("payload") == empty:
            message["payload"] = {"$ref": "#/components/schemas/Envelope"}
            if "Envelope" not in schemas:
                envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(envelope.pop("$defs", {}), Envelope=envelope)
    schemas.pop("EmptyPayload", None)
    return document
