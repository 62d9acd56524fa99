#!/bin/sh
# The oracle on 10 000 generated histories (or $1), on demand: about 0.3 s a history on the
# 2-core VM, so plan close to an hour for 10 000.
set -e
cd "$(dirname "$0")/../.."
ORACLE_HISTORIES="${1:-10000}" exec uv run pytest -q -n 0 -p no:randomly tests/oracle/test_oracle.py
