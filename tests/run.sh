#!/usr/bin/env bash
# Every suite: lint, then unit and lab end-to-end tests in one pytest run (one summary line).
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "== ansible-lint (production profile)"
bash tests/lint.sh
echo "== collection build"
bash tests/build_collection.sh
echo "== pytest: unit + lab end-to-end"
exec .venv/bin/python -m pytest -p no:cacheprovider -ra tests/unit tests/e2e
