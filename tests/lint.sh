#!/usr/bin/env bash
# ansible-lint (production profile) on the playbooks, then antsibull-docs on every plugin's
# DOCUMENTATION, EXAMPLES and RETURN.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export ANSIBLE_CONFIG="$root/ansible.cfg"
.venv/bin/ansible-lint --profile production --offline playbooks/

# antsibull-docs wants its working directory to be .../ansible_collections/stratus/compute and calls
# `ansible` and `ansible-doc` from the PATH: it runs in a copy of the checkout of that shape.
base=$(mktemp -d "${TMPDIR:-/tmp}/stratus-docs-lint.XXXXXX")
trap 'rm -rf "$base"' EXIT
tree=$(bash tests/collection_tree.sh "$base")
echo "== antsibull-docs lint-collection-docs --plugin-docs"
(cd "$tree" && unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS \
  && PATH="$root/.venv/bin:$PATH" "$root/.venv/bin/antsibull-docs" lint-collection-docs --plugin-docs .)
