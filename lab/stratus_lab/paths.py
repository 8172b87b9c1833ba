# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the checkout's parts are: the package is installed editable from <checkout>/lab."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PYTHON = VENV_BIN / "python"
COLLECTIONS = ROOT / ".ansible" / "collections"
ANSIBLE_CONFIG = ROOT / "ansible.cfg"
DEMO_INVENTORY = ROOT / "inventory" / "demo.yml"
PROVISION = ROOT / "playbooks" / "provision.yml"
SERVER_ACTION = ROOT / "playbooks" / "server_action.yml"
# The demo inventory's one network, as Stratus names it in libvirt ("stratus-" + its name).
DEMO_NETWORK = "stratus-demo"
