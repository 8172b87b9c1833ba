#!/usr/bin/env bash
# The collection builds into a tarball that installs, and ansible-doc shows its plugins from there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
"$root/.venv/bin/ansible-galaxy" collection build --force --output-path "$out" . >/dev/null
# From a neutral directory, so neither the repo's ansible.cfg nor its collection link is seen.
cd "$out"
printf "[defaults]\n" > "$out/ansible.cfg"
export ANSIBLE_CONFIG="$out/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$out/installed"
"$root/.venv/bin/ansible-galaxy" collection install --force -p "$out/installed" "$out"/stratus-compute-*.tar.gz >/dev/null
for plugin in server server_info compute_network compute_block_devices compute_domain compute_instance_info; do
  doc=$("$root/.venv/bin/ansible-doc" "stratus.compute.$plugin" 2>&1)
  if ! grep -q "stratus.compute.$plugin" <<<"$doc" || grep -q "was not found" <<<"$doc"; then
    echo "ansible-doc cannot show stratus.compute.$plugin from the installed tarball:"; echo "$doc" | head; exit 1
  fi
done
echo "built $(basename "$out"/stratus-compute-*.tar.gz), installed it, ansible-doc shows all 6 modules"
