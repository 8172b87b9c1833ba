#!/usr/bin/env bash
# Usage: tests/collection_tree.sh BASE
# Copies the files of the checkout that git knows of (tracked, plus untracked ones that are not
# ignored: never .venv, .lab, build/ or tests/output/) into BASE/ansible_collections/stratus/compute
# and prints that path. ansible-test and antsibull-docs insist that their working directory really is
# .../ansible_collections/stratus/compute (symlinks are resolved), so both run in such a copy.
set -euo pipefail
cd "$(dirname "$0")/.."
tree="$1/ansible_collections/stratus/compute"
mkdir -p "$tree"
# Deleted-but-tracked files are listed by git yet gone from disk: copy only what exists.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -xf - -C "$tree"
echo "$tree"
