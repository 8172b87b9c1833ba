# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Mirrors plugins/plugin_utils/actions/read.py STORE_READ_ARG_SPEC.
    DOCUMENTATION = r"""
options:
  db_url:
    description: The state store URL; defaults as for M(stratus.compute.server).
    type: str
"""
