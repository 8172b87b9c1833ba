#!/usr/bin/env bash
# Every suite: lint, collection build, ansible-test sanity and units, then unit and lab end-to-end
# tests in one pytest run (one summary line).
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "== ansible-lint (production profile)"
bash tests/lint.sh
echo "== collection build"
bash tests/build_collection.sh
echo "== ansible-test sanity and units"
bash tests/sanity.sh
echo "== pytest: unit, controller integration (SQLite + PostgreSQL), lab end-to-end"
exec .venv/bin/python -m pytest -p no:cacheprovider -ra tests/unit tests/integration tests/e2e
