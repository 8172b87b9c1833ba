"""The stratus.compute collection as Python: the API and the identity commands call its controller code
(the state store, the catalog, the caller and policy) in process, where the other commands run playbooks."""
from __future__ import annotations

import importlib
import sys

from stratus_cli.errors import CliError
from stratus_cli.settings import find_collection

PACKAGE = "ansible_collections.stratus.compute"


def ensure_importable() -> None:
    """A checkout's .venv imports the collection already (setup/bootstrap.sh's .pth); an installed CLI
    finds it where ansible-galaxy put it (<path>/ansible_collections/stratus/compute)."""
    try:
        importlib.import_module(PACKAGE + ".plugins.plugin_utils.store.engine")
        return
    except ImportError:
        pass
    root = find_collection()
    if root.parent.parent.name != "ansible_collections":
        raise CliError("ConfigurationError", "the collection at %s is not importable as %s: install it "
                       "(ansible-galaxy collection install) or run setup/bootstrap.sh" % (root, PACKAGE), "collection")
    sys.path.insert(0, str(root.parent.parent.parent))
    importlib.invalidate_caches()
    importlib.import_module(PACKAGE + ".plugins.plugin_utils.store.engine")
