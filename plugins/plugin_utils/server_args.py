# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server request's argument spec (mirrored by plugins/modules/server.py DOCUMENTATION)."""
from __future__ import annotations

import typing as t

SERVER_ARG_SPEC: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present"]},
    "flavor": {"type": "raw"},
    "image": {"type": "raw"},
    "networks": {"type": "raw"},
    "block_device_mapping_v2": {"type": "list", "elements": "dict"},
    "min_count": {"type": "int", "default": 1},
    "max_count": {"type": "int"},
    "availability_zone": {"type": "str"},
    "key_name": {"type": "str"},
    "user_data": {"type": "str"},
    "metadata": {"type": "dict", "default": {}},
    "personality": {"type": "list", "elements": "dict"},
    "config_drive": {"type": "bool"},
    "security_groups": {"type": "list", "elements": "raw"},
    "scheduler_hints": {"type": "dict"},
    "admin_pass": {"type": "str", "no_log": True},
    "description": {"type": "str"},
    "tags": {"type": "list", "elements": "str", "default": []},
    "context": {"type": "dict"},
    "db_url": {"type": "str", "no_log": True},
}
