# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one resource class rule: a node's resource class as the placement name a flavor asks for.

Nova turns an Ironic node's ``resource_class`` into a custom placement resource class: each run of
characters other than ASCII letters and digits becomes one ``_``, the result is upper-cased and
prefixed ``CUSTOM_`` (``baremetal.small-2`` -> ``CUSTOM_BAREMETAL_SMALL_2``). A bare-metal flavor
then asks for ``resources:CUSTOM_BAREMETAL_SMALL_2=1``. The prefix is always added, so a node's
class written as ``CUSTOM_GOLD`` would become ``CUSTOM_CUSTOM_GOLD``: the node reader refuses
that spelling (``is_prefixed``) instead of letting flavors miss the node.
"""
from __future__ import annotations

import re

CUSTOM_PREFIX = "CUSTOM_"
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")


def normalize_resource_class(name: str) -> str:
    """The placement resource class of an Ironic resource_class (Nova's rule, above)."""
    return CUSTOM_PREFIX + _NOT_ALPHANUMERIC.sub("_", name).upper()


def is_prefixed(name: str) -> bool:
    """True when a node's resource_class already carries the prefix Nova adds."""
    return name.upper().startswith(CUSTOM_PREFIX)
