"""Build the werk API application from settings: ``create_app(settings)``; nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

import werk
from werk.api import problems
from werk.api.hub import Hub
from werk.api.routes import (
    assets,
    events,
    export,
    health,
    ingest,
    keys,
    kpi,
    overview,
    participants,
    series,
    signals,
    stream,
    users,
)
from werk.api.routes import auth as auth_routes
from werk.api.routes import dsp as dsp_routes
from werk.api.routes import edge as edge_routes
from werk.api.routes import sharing as sharing_routes
from werk.errors import WerkError
from werk.ingest import Ingest
from werk.settings import Settings
from werk.sharing.enforcement import open_door
from werk.store import Store, open_store
from werk.web import static_app

log = logging.getLogger("werk.api")


class WerkApp(FastAPI):
    """FastAPI, with ``POST /api/v1/ingest`` answered ahead of the middleware stack
    (:func:`werk.api.routes.ingest.answer`): the hot path pays for none of it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if ingest.answers(scope):
            await ingest.answer(self, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def enforce_retention(store: Store, interval_s: int) -> None:
    """Apply the store's retention rules every ``interval_s`` seconds, forever."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            deleted = await asyncio.to_thread(store.apply_retention, datetime.now(UTC))
        except WerkError as exc:  # the store may be down for a while; try again next round
            log.warning("retention not applied: %s", exc)
        else:
            if deleted:
                log.info("retention deleted %d rows", deleted)


async def score_periodically(store: Store, models: Path, interval_s: int) -> None:
    """Score machines with the promoted models every ``interval_s`` seconds, first after one
    interval (a server that just started has nothing new to score); see :mod:`werk.ml.scoring`."""
    await asyncio.sleep(interval_s)
    from werk.ml.registry import Registry  # scikit-learn and LightGBM load only when used
    from werk.ml.scoring import scoring_loop

    await scoring_loop(store, Registry(models), interval_s)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """Return the API app; it opens the configured store on start unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        the_store = store if store is not None else open_store(settings.resolved_store_url())
        app.state.store = the_store
        app.state.door, app.state.sharing = open_door(the_store)  # agreements + audit
        app.state.ingest = Ingest(
            the_store,
            max_body_bytes=settings.max_body_bytes,
            future_tolerance_s=settings.future_tolerance_s,
        )
        retention = (
            asyncio.create_task(
                enforce_retention(the_store, settings.retention_interval_s),
                name="werk[api].retention",
            )
            if settings.retention_interval_s
            else None
        )
        scoring = (
            asyncio.create_task(
                score_periodically(
                    the_store, settings.data_dir / "models", settings.ml_score_interval_s
                ),
                name="werk[api].ml-scoring",
            )
            if settings.ml_score_interval_s
            else None
        )
        try:
            yield
        finally:
            for task in (retention, scoring):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            app.state.sharing.close()  # flush the last audit records
            if own:
                the_store.close()

    app = WerkApp(
        title="werk",
        version=werk.__version__,
        summary="Open industrial data platform",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hub = Hub()  # live stream pub/sub, fed by the ingest route after each commit
    problems.install(app)
    for router in (
        health.router,
        ingest.router,
        series.router,
        keys.router,
        kpi.router,
        assets.router,
    ):
        app.include_router(router, prefix="/api/v1")
    for router in (events.router, signals.router, stream.router, overview.router, export.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(edge_routes.router, prefix="/api/v1")
    app.include_router(sharing_routes.router, prefix="/api/v1")
    app.include_router(dsp_routes.router, prefix="/api/v1")
    app.include_router(dsp_routes.well_known)  # /.well-known/dspace-version, unversioned
    for router in (auth_routes.router, users.router, participants.router):
        app.include_router(router, prefix="/api/v1")
    app.mount("/", static_app(), name="web")  # the dashboard; last, so /api/v1 routes win
    return app
