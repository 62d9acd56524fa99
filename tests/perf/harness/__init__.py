"""What the benchmarks and reliability scripts of tests/perf share.

- `results`: the results folder, log lines, JSON files, percentiles, the machine and the code.
- `postgres`: scratch databases, a private cluster, one-connection reads of the log.
- `server`: `prowd serve` and other `prowd` processes, started and stopped as process groups.
- `world`: tokens, and the grantee with facilities and a cohort the load needs, over HTTP.
- `meters`: CPU per group of processes, resident memory, waiting for an idle machine.
- `probes`: the projection lag probe and the views' convergence to a rebuild.
- `load`: the command load drivers (wrk, the enrol-and-move clients) and their retries.
- `receiver` and `outbox`: a webhook receiver, and the checks of the outbox against it.

Not pytest tests (no test_ prefix); imported as `tests.perf.harness`.
"""
