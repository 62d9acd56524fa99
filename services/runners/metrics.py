"""Prometheus metrics through `prometheus_client` (docs/observability.md): one registry per
scrape target, the same families whether the API, a worker or a dispatcher answers.

- Per process: the process collector (CPU, memory, file descriptors, start time), the garbage
  collector, the Python platform, `prowd_build_info`, and the process's connection pool
  (`prowd_db_pool_*`, from psycopg_pool's own statistics). The API adds its request and command
  families (services/api/telemetry.py), a worker its leases.
- Platform-wide, read from the database at scrape time: views' lag and faults
  (services/projector/stats.py), webhook deliveries and the outbox consumer
  (services/webhooks/stats.py).

With `PROMETHEUS_MULTIPROC_DIR` set (prometheus_client's multiprocess mode, which `prowd serve
--workers N` sets up for its N API processes), the request families are summed over every
process of the pod by prometheus_client's `MultiProcessCollector`; the process, GC and pool
figures are then the answering process's.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from services.app.tenancy import Tenancy
from services.projector import stats as projector_stats
from services.store.database import Database
from services.webhooks import stats as webhook_stats

# `_created` samples double every counter's series for a figure no alert uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class Platform(Collector):
    """The families read from the database when scraped (the same from every process)."""

    def __init__(self, db: Database, tenancy: Tenancy) -> None:
        self.db = db
        self.tenancy = tenancy

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for name, help_text, kind, read in (*projector_stats.FAMILIES, *webhook_stats.FAMILIES):
            base = name.removesuffix("_total") if kind == "counter" else name
            family = Metric(base, help_text, kind)
            sample = f"{base}_total" if kind == "counter" else base
            for labels, value in read(self.db, self.tenancy):
                family.add_sample(sample, dict(sorted(labels.items())), float(value))
            yield family


class Pool(Collector):
    """The process's connection pool, from psycopg_pool's `get_stats()`."""

    GAUGES = {
        "pool_size": "Connections the pool holds, busy or idle.",
        "pool_available": "Idle connections in the pool.",
        "requests_waiting": "Requests waiting for a connection now.",
    }

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        stats = self.db.pool.get_stats()
        name = self.db.pool.name
        for key, help_text in self.GAUGES.items():
            g = GaugeMetricFamily(f"prowd_db_{key}", help_text, labels=["pool"])
            g.add_metric([name], float(stats.get(key, 0)))
            yield g
        g = GaugeMetricFamily(
            "prowd_db_pool_max", "Most connections the pool may open.", labels=["pool"]
        )
        g.add_metric([name], float(self.db.pool.max_size))
        yield g
        for key, help_text in (
            ("requests_num", "Connections asked of the pool."),
            ("requests_queued", "Requests that had to wait for a connection."),
            ("requests_errors", "Requests refused: timed out or the queue full."),
            ("connections_errors", "Failed attempts to open a connection."),
        ):
            c = Metric(f"prowd_db_{key}", help_text, "counter")
            c.add_sample(f"prowd_db_{key}_total", {"pool": name}, float(stats.get(key, 0)))
            yield c


class Build(Collector):
    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            version = metadata.version("prowd-ledger")
        except metadata.PackageNotFoundError:
            version = "unknown"
        info = InfoMetricFamily("prowd_build", "The running code's version.")
        info.add_metric([], {"version": version, "python": platform.python_version()})
        yield info


class Gauge(Collector):
    """A gauge read from a function when scraped (a worker's leases)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def describe(self) -> Iterable[Metric]:
        # Named, so `/metrics?name[]=…` (the liveness probe) collects this gauge alone.
        return [GaugeMetricFamily(self.name, self.help)]

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, self.help, value=self.read())


class _Registered(Collector):
    """Another registry's metrics in this one (the API's request families)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def registry(
    db: Database,
    tenancy: Tenancy,
    *,
    counted: CollectorRegistry | None = None,
    extra: Iterable[Collector] = (),
) -> CollectorRegistry:
    """A scrape target's registry: the process's own figures, `counted` (families counted by
    this process, summed over the pod's processes in multiprocess mode) and the platform's."""
    r = CollectorRegistry(auto_describe=False)
    if counted is not None:
        if multiprocess_dir():
            multiprocess.MultiProcessCollector(r)  # type: ignore[no-untyped-call]
        else:
            r.register(_Registered(counted))
    ProcessCollector(registry=r)
    GCCollector(registry=r)
    PlatformCollector(registry=r)
    for collector in (Build(), Pool(db), Platform(db, tenancy), *extra):
        r.register(collector)
    return r


def render(r: CollectorRegistry) -> bytes:
    return generate_latest(r)


def serve(r: CollectorRegistry, host: str, port: int) -> Any:
    """`/metrics` on `host:port` in a thread (workers and dispatchers, which serve no API)."""
    server, _thread = start_http_server(port, addr=host, registry=r)
    return server
