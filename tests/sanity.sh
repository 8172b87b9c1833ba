#!/usr/bin/env bash
# ansible-test sanity and units (local, Python 3.11) for stratus.compute.
#
# ansible-test insists that its working directory really is .../ansible_collections/stratus/compute
# (it resolves symlinks, so the .ansible/collections link to this checkout is refused). So the files
# of the checkout that git knows of (tracked, plus untracked ones that are not ignored: never .venv,
# .lab, build/ or tests/output/) are copied into a throwaway tree of that shape, and both run there.
#
# ansible-test bootstraps pip into each of its virtual environments with a get-pip script that it
# downloads from ci-files.testing.ansible.com, unless ~/.ansible/test/cache/get_pip_<version>.py
# exists. That host may be unreachable, so tests/sanity/get_pip.py stands in for it, next to the pip
# wheel of that version fetched through the configured package index.
#
# STRATUS_SANITY_DIR=<dir> keeps the tree (and ansible-test's tests/output) there instead of a
# temporary directory that is removed at the end. Extra arguments go to `ansible-test sanity`,
# e.g. `bash tests/sanity.sh --test pylint`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py="$root/.venv/bin/python"
# The repo's ansible.cfg points at the collection link to this checkout; ansible-test sets up its own.
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

# 1. The pip bootstrap script and wheel, for the pip version this ansible-test wants.
pip_version=$("$py" -c 'import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
if ! ls "$cache"/pip-"$pip_version"-*.whl >/dev/null 2>&1; then
  "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$cache" "pip==$pip_version"
fi
cp tests/sanity/get_pip.py "$cache/get_pip_${pip_version//./_}.py"

# 2. A real ansible_collections/stratus/compute tree with the checkout's files.
if [ -n "${STRATUS_SANITY_DIR:-}" ]; then
  base="$STRATUS_SANITY_DIR"
  rm -rf "$base/ansible_collections/stratus/compute"
else
  base=$(mktemp -d "${TMPDIR:-/tmp}/stratus-sanity.XXXXXX")
  trap 'rm -rf "$base"' EXIT
fi
tree=$(bash tests/collection_tree.sh "$base")

# 3. Both suites; the second runs even if the first fails, and the exit status says whether both passed.
cd "$tree"
rc=0
echo "== ansible-test sanity (in $tree)"
SECONDS=0
"$root/.venv/bin/ansible-test" sanity --local --python 3.11 --color no "$@" || rc=1
echo "== ansible-test sanity: ${SECONDS}s"
# Only tests/unit/plugins/: the other tests/unit/test_*.py need the state store, PostgreSQL and
# libvirt stacks and run under plain pytest in tests/run.sh.
# --venv, not --local: both run without containers, but --local would test with .venv's own packages
# and need --requirements to pip-install pytest-xdist, pytest-mock and mock into the pinned .venv.
# --venv installs them into a throwaway virtual environment of python3.11 instead.
echo "== ansible-test units"
SECONDS=0
"$root/.venv/bin/ansible-test" units --venv --python 3.11 --color no tests/unit/plugins/ || rc=1
echo "== ansible-test units: ${SECONDS}s"
exit "$rc"
