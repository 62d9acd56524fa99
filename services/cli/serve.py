"""The long-running commands: `prowd serve` / `prowd demo` (the API and the processes it
supervises), `prowd worker` (projections) and `prowd webhooks dispatch`."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import structlog

from services.cli.connect import require_master_keys
from services.settings import Settings

log = structlog.get_logger("prowd.cli")


def cmd_serve(args: argparse.Namespace, settings: Settings, *, demo: bool = False) -> int:
    """`prowd serve` (and `prowd demo`, which loads the demo data and prints tokens first): the
    API in `--workers` processes, with a projection worker and a webhook dispatcher beside it
    unless `--no-worker`."""
    import uvicorn

    from services.app.tenancy import Tenancy
    from services.store.database import Database, server_url

    with contextlib.ExitStack() as stack:
        url = server_url(settings, stack)
        with contextlib.closing(Database(url, settings, name="prowd-setup").open()) as db:
            tenancy = Tenancy(db)
            tenancy.migrate()
            require_master_keys(db)
            if demo:
                from services.demo.data import load_demo
                from services.demo.tokens import DEMO_GRANTEE, print_tokens

                added = load_demo(tenancy)
                print(f"demo data: {added} participants added (0: already loaded)")
                print_tokens(settings.with_secret(), host=args.host, port=args.port)
                # The console's development sign-in offers the grantee the tokens name.
                os.environ.setdefault("PROWD_CONSOLE_GRANTEE", DEMO_GRANTEE)
                if args.load_only:
                    return 0
        secret = settings.with_secret().jwt_secret
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": secret,
            "PROWD_PARENT_PID": str(os.getpid()),
        }
        if not getattr(args, "no_worker", False):
            worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env)
            stack.callback(_stop, worker)
            # The webhook dispatcher runs beside the projection worker (DESIGN D6).
            dispatcher = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "webhooks", "dispatch"], env=env
            )
            stack.callback(_stop, dispatcher)
            _yield_to_worker(settings.api_nice)
        os.environ.update({"PROWD_DATABASE_URL": url, "PROWD_JWT_SECRET": secret})
        if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # prometheus_client's multiprocess mode: the API processes count into files of
            # one folder and a scrape of any of them sums the pod (docs/observability.md).
            import tempfile

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="prowd-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        if getattr(args, "http_server", "uvicorn") == "granian":
            _serve_granian(args)
            return 0
        # uvicorn re-raises SIGTERM after its graceful shutdown; make that unwind this stack
        # (worker stopped, embedded server stopped) instead of killing the process outright.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        uvicorn.run(
            "services.api.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            access_log=False,
        )
    return 0


def _yield_to_worker(nice: int) -> None:
    """Lower this process's CPU priority (and so its API processes', which inherit it) below
    the projection worker and dispatcher just started beside it (decision 143): on one host,
    a command load that saturates the CPU must not starve the worker, or every view falls
    behind the log for as long as the load lasts. On Kubernetes and compose the worker has its
    own container and CPU; this is the single-host shape's equivalent."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except OSError as e:  # pragma: no cover - a platform without nice(2)
        log.warning("api_nice_not_applied", nice=nice, error=str(e))
        return
    log.info("api_priority_lowered", nice=os.getpriority(os.PRIO_PROCESS, 0))


def _serve_granian(args: argparse.Namespace) -> None:
    """The API processes under granian (HTTP parsing and writing in Rust), the same app."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        "services.api.app:app_from_env",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        loop=Loops.uvloop,
        factory=True,
        log_enabled=False,
        log_access=False,
    ).serve()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd worker`: keep every grantee's views caught up until stopped."""
    from services.audit.checkpoints import load_key
    from services.runners.projection import ProjectionWorker
    from services.store.database import Database

    if not settings.database_url:
        print("prowd worker: PROWD_DATABASE_URL must be set", file=sys.stderr)
        return 2
    db = Database(settings.database_url, settings, name="prowd-worker").open()
    worker = ProjectionWorker(
        db,
        key=load_key(settings),
        gather_seconds=settings.projector_gather_ms / 1000,
        spacing_seconds=settings.projector_spacing_ms / 1000,
    )
    worker.tenancy.migrate()
    require_master_keys(db)
    # As in the API processes: fewer, shorter collector pauses under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    _stop_with_parent(worker.stop)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    if settings.metrics_port:
        from services.runners import metrics

        metrics.serve(
            metrics.registry(
                db,
                worker.tenancy,
                extra=[
                    metrics.Gauge(
                        "prowd_worker_leases",
                        "Grantees this worker leases (it projects their views).",
                        lambda: float(len(worker.leases.held)) if worker.leases else 0.0,
                    ),
                    metrics.Gauge(
                        "prowd_heartbeat_age_seconds",
                        "Seconds since the worker's loop last went round (deploy/probe.py alive).",
                        worker.heartbeat_age,
                    ),
                    metrics.Gauge(
                        "prowd_worker_events_projected",
                        "Events this worker applied to views since it started.",
                        lambda: float(worker.processed),
                    ),
                    metrics.Gauge(
                        "prowd_worker_batches",
                        "Catch-ups that applied events (events projected / this: the mean batch).",
                        lambda: float(worker.batches),
                    ),
                ],
            ),
            settings.metrics_host,
            settings.metrics_port,
        )
    log.info("worker_started", pid=os.getpid(), metrics_port=settings.metrics_port)
    try:
        worker.run()
    finally:
        held = sorted(worker.leases.held) if worker.leases is not None else []
        db.close()
        log.info("worker_stopped", pid=os.getpid(), events=worker.processed, leases_released=held)
    return 0


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd webhooks dispatch`: deliver due webhooks until stopped (any number may run)."""
    from services.app.dispatching import Dispatching
    from services.app.tenancy import Tenancy
    from services.store.database import Database
    from services.webhooks.dispatcher import Dispatcher
    from services.webhooks.ssrf import parse_networks

    if not settings.database_url:
        print("prowd webhooks: PROWD_DATABASE_URL must be set", file=sys.stderr)
        return 2
    db = Database(settings.database_url, settings, name="prowd-webhooks").open()
    tenancy = Tenancy(db)
    tenancy.migrate()
    require_master_keys(db)
    dispatcher = Dispatcher(
        db,
        Dispatching(tenancy),
        allowed=parse_networks(settings.webhook_allowed_networks),
        concurrency=args.concurrency,
    )
    _stop_with_parent(dispatcher.stop)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stop())
    if settings.metrics_port:
        from services.runners import metrics

        beat = metrics.Gauge(
            "prowd_heartbeat_age_seconds",
            "Seconds since the dispatcher's loop last went round (deploy/probe.py alive).",
            dispatcher.heartbeat_age,
        )
        metrics.serve(
            metrics.registry(db, tenancy, extra=[beat]),
            settings.metrics_host,
            settings.metrics_port,
        )
    log.info(
        "dispatcher_started",
        pid=os.getpid(),
        concurrency=args.concurrency,
        metrics_port=settings.metrics_port,
    )
    try:
        dispatcher.run()
    finally:
        dispatcher.close()
        db.close()
        log.info("dispatcher_stopped", pid=os.getpid())
    return 0


def _stop_with_parent(stop: Callable[[], None]) -> None:
    """Under `prowd serve`, stop when the parent goes away (even if it was killed)."""
    parent = os.environ.get("PROWD_PARENT_PID")
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
