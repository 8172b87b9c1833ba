#!/usr/bin/env bash
# Installs whatever is missing, and nothing else: Debian packages, the repo's
# virtual environment with pinned Python packages, and the collection link that
# lets Ansible find stratus.compute in this checkout. Safe to run repeatedly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
while read -r pkg _; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < setup/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  # Package scripts must not start services on the host: the lab starts its own daemons.
  printf '#!/bin/sh\nexit 101\n' > /tmp/stratus-policy-rc.d && chmod +x /tmp/stratus-policy-rc.d
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    $sudo cp /tmp/stratus-policy-rc.d /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

stamp=.venv/.stratus-requirements
if [ ! -x .venv/bin/python ] || ! cmp -s setup/requirements.txt "$stamp"; then
  echo "setup: creating .venv with pinned Python packages"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r setup/requirements.txt
  cp setup/requirements.txt "$stamp"
else
  echo "setup: .venv up to date"
fi

# The stratus command (cli/), editable: .venv/bin/stratus runs this checkout's code. Its pinned
# dependencies are the ones above, so no build isolation and no download.
if [ ! -x .venv/bin/stratus ] || ! cmp -s cli/pyproject.toml .venv/.stratus-cli; then
  echo "setup: installing the stratus command into .venv"
  .venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e ./cli
  cp cli/pyproject.toml .venv/.stratus-cli
fi

# The lab and the toolkit of its harnesses (lab/: the package stratus_lab), editable the same way:
# the tests, the reliability scenarios, the benchmark and the CLI's `lab` commands import it.
if ! .venv/bin/python -c 'import stratus_lab' 2>/dev/null || ! cmp -s lab/pyproject.toml .venv/.stratus-lab; then
  echo "setup: installing the lab toolkit (stratus_lab) into .venv"
  .venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e ./lab
  cp lab/pyproject.toml .venv/.stratus-lab
fi

# The repo root is the collection; Ansible finds it through this link (ansible.cfg's collections_path).
mkdir -p .ansible/collections/ansible_collections/stratus
ln -sfn "$root" .ansible/collections/ansible_collections/stratus/compute
# ... and .venv's Python imports it from there as ansible_collections.stratus.compute (the harnesses
# read the product's constants and the store's quota count), as an editable install would.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$root/.ansible/collections" > "$site/stratus-collection.pth.tmp"
if cmp -s "$site/stratus-collection.pth.tmp" "$site/stratus-collection.pth" 2>/dev/null; then
  rm -f "$site/stratus-collection.pth.tmp"
else
  mv "$site/stratus-collection.pth.tmp" "$site/stratus-collection.pth"
fi
