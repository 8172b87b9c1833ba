# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Mirrors module_utils/compute/common.py HYPERVISOR_ARG_SPEC.
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - The libvirt connection URI on the hypervisor.
    type: str
    default: qemu:///system
  instances:
    description:
      - The build plans of the instances this step handles on this host, as the
        controller's C(stratus.compute.server) action wrote them to the state store.
      - Normally filled in by the step's action plugin from the state store; not written by hand.
      - The plans come without the config drive's secrets (admin password, user data, injected files),
        because Ansible logs this option on the hypervisor. The modules that build config drives get
        those in their own option C(secrets), which is never logged.
    type: list
    elements: dict
    default: []
  state:
    description:
      - C(present) builds (idempotently), C(absent) tears down.
    type: str
    default: present
    choices: [present, absent]
  run_uuids:
    description:
      - The instances of this run (the C(stratus_run_uuids) fact that the provision play sets).
        The action plugin takes the plans of those instances that are placed on this host from the state store.
      - Omitted, every live instance placed on this host is handled.
    type: list
    elements: str
  building_only:
    description:
      - Take only instances whose build is under way, not the active ones, which the first
        build round already converged. The provision play's later build rounds set it, as they
        build rescheduled servers only, so a host with none of them is not contacted.
    type: bool
    default: false
  db_url:
    description:
      - The state store URL (SQLAlchemy form). Defaults to the C(stratus_db_url) variable,
        then the E(STRATUS_DB_URL) environment variable, then a SQLite file under E(STRATUS_STATE_DIR).
    type: str
requirements:
  - libvirt-python on the hypervisor
notes:
  - Takes the whole plan of one hypervisor in one call and is idempotent per instance;
    the failure of one instance is reported in its entry of RV(instances), not as the host's failure.
  - Normally called by the provision playbook through the action plugin of the same name,
    which reads the host's plans from the state store and records the result there.
"""
