# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# What every module's attributes say; STEP and READ add the support levels (and the author) that
# whole families of modules share, so that a module lists one fragment instead of repeating them.
_ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.{check_mode}
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.{diff_mode}
  action_group:
    description: Use C(group/stratus.compute.compute) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - stratus.compute.compute
"""
_AUTHOR = r"""
author:
  - Stratus contributors (@stratus-compute)
"""


def _support(level: str) -> str:
    return "\n    support: " + level


class ModuleDocFragment:
    # The attribute descriptions only: the module states its own support levels.
    DOCUMENTATION = "options: {}" + _ATTRIBUTES.format(check_mode="", diff_mode="")

    # A hypervisor step or another module that changes things: no check mode, no diff.
    STEP = "options: {}" + _ATTRIBUTES.format(check_mode=_support("none"), diff_mode=_support("none")) + _AUTHOR

    # A read-only module: full check mode (it changes nothing), no diff.
    READ = "options: {}" + _ATTRIBUTES.format(check_mode=_support("full"), diff_mode=_support("none")) + _AUTHOR
