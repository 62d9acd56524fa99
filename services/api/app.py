"""The Litestar application factory: `create_app(settings)` wires everything (DESIGN D4)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from services import logging as prowd_logging
from services import tracing
from services.api import (
    alerts,
    apikeys,
    audit,
    audit_access,
    audit_reads,
    batch,
    calendar,
    casenotes,
    casework,
    consents,
    contract,
    docs_assets,
    documents,
    erasure,
    exports,
    goals,
    imports,
    meetings,
    mentor_options,
    metrics,
    openapi,
    reports,
    retention,
    rrc,
    rrc_webhooks,
    staff,
    supervision,
    timeline,
    webhooks,
)
from services.api.consistency import wait_for_views
from services.api.console import console_not_found_first, console_router, template_config
from services.api.context import authorize, provide_principal
from services.api.facilities import FacilityController
from services.api.grantees import GranteeController
from services.api.hardening import rate_limit_middleware, security_headers_middleware
from services.api.health import health, ready
from services.api.localtime import localize_response
from services.api.mentors import MentorController
from services.api.middleware import request_log_middleware
from services.api.pairings import PairingController
from services.api.parameters import control_characters, unknown_parameters
from services.api.participants import ParticipantController
from services.api.problems import handle_exception
from services.api.strict import strict_body
from services.app.tenancy import Tenancy
from services.audit.checkpoints import load_key
from services.projector import signals as view_signals
from services.reports.processes import ReportPool
from services.settings import Settings
from services.store.database import Database
from services.store.health import MasterKeyCheck

# The threads that run the API's blocking handlers (PROWD_HANDLER_THREADS of them).
HANDLER_THREAD_PREFIX = "prowd-handler"


def create_app(settings: Settings, db: Database | None = None) -> Litestar:
    """Build the API. Without `db`, a pool on `settings.database_url` is opened at startup."""
    settings = settings.with_secret()
    audit_key = load_key(settings)
    if db is None and not settings.database_url:
        raise ValueError("create_app needs a database: pass db= or set database_url")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        own = db is None
        database = db or Database(settings.database_url or "", settings, name="prowd-api").open()
        tenancy = Tenancy(database)
        tenancy.migrate()
        app.state.tenancy = tenancy
        app.state.master_keys = MasterKeyCheck(database)
        app.state.audit_key = audit_key
        # Few threads run the blocking handlers: more threads running Python at once only fight
        # for the GIL, costing CPU and lengthening the latency tail (docs/performance.md).
        # View waits (`min_position`) happen before the handler and hold no thread. Litestar
        # runs sync handlers on the event loop's default executor (min(32, cores + 4) threads
        # unless set), so that executor is the one sized; anyio's limiter for the rest.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.handler_threads, thread_name_prefix=HANDLER_THREAD_PREFIX)
        )
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.handler_threads
        # Long-lived objects built at start-up are moved out of the collector's way, and young
        # collections run less often: full collections were the latency tail's long pauses.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        # Reports run in child processes, started on the first report (services/reports/processes.py).
        app.state.report_pool = ReportPool(settings.report_processes)
        # Read-your-writes waits wake on the projector's notes (services/projector/signals.py).
        listener = view_signals.ViewSignals(database.url).start()
        view_signals.attach(database, listener)
        try:
            yield
        finally:
            view_signals.detach(database, listener)
            listener.stop()
            app.state.report_pool.shutdown()
            if own:
                database.close()

    app = Litestar(
        route_handlers=[
            GranteeController,
            FacilityController,
            ParticipantController,
            MentorController,
            PairingController,
            health,
            ready,
            *meetings.ROUTES,
            *batch.ROUTES,
            *goals.ROUTES,
            *supervision.ROUTES,
            *alerts.ROUTES,
            *staff.ROUTES,
            *timeline.ROUTES,
            *mentor_options.ROUTES,
            *audit.ROUTES,
            *retention.ROUTES,
            *erasure.ROUTES,
            *audit_reads.ROUTES,
            *audit_access.ROUTES,
            *consents.ROUTES,
            *rrc.ROUTES,
            *rrc_webhooks.ROUTES,
            *apikeys.ROUTES,
            *exports.ROUTES,
            *reports.ROUTES,
            *webhooks.ROUTES,
            *metrics.ROUTES,
            *calendar.ROUTES,
            *casenotes.ROUTES,
            *documents.routes(settings),
            *imports.ROUTES,
            *casework.ROUTES,
            docs_assets.assets_router(),
            console_router(settings),
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        dependencies={"principal": Provide(provide_principal)},
        # Outermost first: every answer carries the security headers, refusals by the rate
        # limiter included. The request log wraps the whole app (below).
        middleware=[
            security_headers_middleware(settings),
            rate_limit_middleware(settings),
            audit_access.access_log_middleware,
        ],
        cors_config=(
            CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None
        ),
        before_request=before_handler,
        after_request=localize_response,
        exception_handlers={Exception: console_not_found_first(handle_exception)},
        # Litestar's records go to the root logger, JSON like every line (services/logging.py).
        logging_config=None,
        request_max_body_size=settings.max_body_bytes,
        state=_state(settings),
        openapi_config=OpenAPIConfig(
            title="PROWD Ledger",
            version="0.1.0",
            description=(
                "Case management for PROWD peer-mentoring grantees. Every command is an "
                "immutable event in the grantee's own log; lists read projections."
            ),
            path="/schema",
            # The handlers' docstrings are the operations' descriptions (CONVENTIONS 7).
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"bearer": []}],
            # Swagger UI from the app's own files, offline (services/api/docs_assets.py).
            render_plugins=docs_assets.render_plugins(),
        ),
        response_cache_config=ResponseCacheConfig(),
        # Before Litestar's own Struct plugin: request bodies declare what they refuse.
        plugins=[openapi.StrictStructs()],
        debug=False,
    )
    openapi.complete(app.openapi_schema)
    reports.document_formats(app.openapi_schema)
    contract.finish(app.openapi_schema)
    # The request log, trace context and request metrics around everything, the router
    # included: it sets the request id the access log records, and requests no route matches
    # are logged and counted too (route "unmatched").
    app.asgi_handler = request_log_middleware(app.asgi_handler)
    if tracing.enabled():
        # Litestar's own OpenTelemetry middleware, outermost: the request log line, the events
        # and the answer's traceparent carry its server span's ids (services/tracing.py).
        from litestar.plugins.opentelemetry import (
            OpenTelemetryConfig,
            OpenTelemetryInstrumentationMiddleware,
        )

        app.asgi_handler = OpenTelemetryInstrumentationMiddleware(
            app.asgi_handler,
            OpenTelemetryConfig(
                scope_span_details_extractor=lambda scope: (str(scope.get("method", "HTTP")), {})
            ),
        )
    return app


async def before_handler(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Parameters no record can hold first (a control character: before the grantee they name
    is looked up), then authorisation, strict bodies for commands, then (bounded, async)
    read-your-writes waits for queries."""
    refused = control_characters(request)
    if refused is not None:
        return refused
    await authorize(request)
    return (
        unknown_parameters(request) or await strict_body(request) or await wait_for_views(request)
    )


def _state(settings: Settings) -> Any:
    from litestar.datastructures import State

    return State({"settings": settings})


def app_from_env() -> Litestar:
    """Entry point for process managers (uvicorn --factory); reads the environment."""
    settings = Settings.from_env()
    prowd_logging.configure(settings.log_level)
    tracing.configure("prowd-api")
    settings.install_clock()
    if not settings.database_url:
        raise SystemExit("PROWD_DATABASE_URL must be set for worker processes")
    os.environ.setdefault("PROWD_JWT_SECRET", settings.with_secret().jwt_secret)
    return create_app(settings)
