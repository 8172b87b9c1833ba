# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # What every module's attributes mean; the module, or one of the variants below, states its support.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    description: Use C(group/stratus.compute.compute) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - stratus.compute.compute
"""

    # A hypervisor step or another module that changes things: no check mode, no diff. (Doc fragments
    # are plain string literals: ansible-test's yamllint reads them without running Python.)
    STEP = r"""
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
"""

    # A read-only module: full check mode (it changes nothing), no diff.
    READ = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
"""
