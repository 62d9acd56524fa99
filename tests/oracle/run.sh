#!/bin/sh
# The oracle on 10 000 generated histories (or $1), on demand, in four seeded shards on two
# workers: about 0.7 s a history on an idle 2-core VM (3 s when it is shared), so plan two hours
# or more for 10 000.
set -e
cd "$(dirname "$0")/../.."
ORACLE_HISTORIES="${1:-10000}" exec uv run pytest -q -n 2 -p no:randomly tests/oracle/test_oracle.py
