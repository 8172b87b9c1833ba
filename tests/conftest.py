"""Make the checkout importable as ansible_collections.stratus.compute."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".ansible", "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line("markers", "lab: needs the namespaced libvirt lab (root, libvirtd, qemu)")
