#!/usr/bin/env bash
# Every suite: lint, collection build, then ansible-test sanity and units beside pytest's unit tests, then
# pytest's controller integration and lab end-to-end tests.
#
# ansible-test's sanity and units and pytest's unit tests each keep about one core busy, and neither needs the
# other: on CI's two cores they run side by side (about 3 minutes saved), the sanity output held back and shown
# after the unit tests' summary, so that the log reads one suite at a time. Every suite runs even if an earlier
# one failed, and the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "== ansible-lint (production profile)"
bash tests/lint.sh || exit 1
echo "== collection build"
bash tests/build_collection.sh || exit 1

sanity_log=$(mktemp "${TMPDIR:-/tmp}/stratus-sanity-log.XXXXXX")
trap 'rm -f "$sanity_log"; [ -n "${sanity_pid:-}" ] && kill "$sanity_pid" 2>/dev/null' EXIT
bash tests/sanity.sh >"$sanity_log" 2>&1 &
sanity_pid=$!

echo "== pytest: unit (ansible-test sanity and units run beside it)"
.venv/bin/python -m pytest -p no:cacheprovider -ra tests/unit
unit_rc=$?
wait "$sanity_pid"
sanity_rc=$?
sanity_pid=
echo "== ansible-test sanity and units"
cat "$sanity_log"

echo "== pytest: controller integration (SQLite + PostgreSQL), lab end-to-end"
.venv/bin/python -m pytest -p no:cacheprovider -ra --durations=25 tests/integration tests/e2e
rest_rc=$?
echo "== exit: pytest unit $unit_rc, ansible-test $sanity_rc, pytest integration and end-to-end $rest_rc"
[ "$unit_rc" -eq 0 ] && [ "$sanity_rc" -eq 0 ] && [ "$rest_rc" -eq 0 ]
