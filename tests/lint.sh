#!/usr/bin/env bash
# ansible-lint (production profile) on the playbooks.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
.venv/bin/ansible-lint --profile production --offline playbooks/
