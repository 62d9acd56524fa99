"""The request stack's per-request costs (issue 23, point 3), both sides measured in one run:

- a request's log line rendered by structlog's JSONRenderer with the standard library's
  `json.dumps` (before) and with msgspec's encoder (`services.logging.dumps`, now);
- an enrolment body decoded twice (the strict decode, then Litestar's own decode and convert:
  before) and once (the strict decode handed to the handler: now).

Prints a table and writes JSON to tests/perf/results/. Run:
    uv run python tests/perf/bench_request_stack.py [--rounds 5] [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec
import structlog
from litestar.serialization import decode_json

from services.api.schemas.participants import ENROL_EXAMPLE, EnrollmentIn
from services.logging import dumps
from tests.perf.harness.results import stamp, write_json

LINE: dict[str, Any] = {
    "event": "request",
    "method": "POST",
    "path": "/v1/grantees/g-chicago/participants",
    "status": 201,
    "duration_ms": 12.734,
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "grantee": "g-chicago",
    "subject": "cm-rita",
    "level": "info",
    "timestamp": "2026-12-05T15:00:00.000000Z",
}


def per_call_us(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()

    stdlib = structlog.processors.JSONRenderer()
    fast = structlog.processors.JSONRenderer(serializer=dumps)
    body = json.dumps(ENROL_EXAMPLE).encode()

    def twice() -> object:
        msgspec.json.decode(body, type=EnrollmentIn, strict=True)
        return msgspec.convert(decode_json(body), type=EnrollmentIn, strict=False)

    def once() -> object:
        decoded = msgspec.json.decode(body, type=EnrollmentIn, strict=True)
        return msgspec.convert(decoded, type=EnrollmentIn, strict=False)  # handed back as is

    sides: dict[str, Callable[[], object]] = {
        "log line, stdlib json": lambda: stdlib(None, "info", dict(LINE)),
        "log line, msgspec": lambda: fast(None, "info", dict(LINE)),
        "body decoded twice": twice,
        "body decoded once": once,
    }
    rounds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):  # interleaved, so a noisy moment hits both sides
        for name, fn in sides.items():
            rounds[name].append(per_call_us(fn, args.n))
    medians = {name: statistics.median(v) for name, v in rounds.items()}
    print(f"{'':28} {'median µs':>10} {'min µs':>8}")
    for name, values in rounds.items():
        print(f"{name:28} {medians[name]:10.2f} {min(values):8.2f}")
    ratios = {
        "log line msgspec/stdlib": medians["log line, msgspec"] / medians["log line, stdlib json"],
        "body once/twice": medians["body decoded once"] / medians["body decoded twice"],
    }
    for name, r in ratios.items():
        print(f"{name:28} {r:10.2f}")
    out = write_json(
        f"request-stack-{stamp()}.json",
        {
            "python": platform.python_version(),
            "rounds": rounds,
            "median_us": medians,
            "ratios": ratios,
            "n": args.n,
        },
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
