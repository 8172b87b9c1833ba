"""Where things are: the collection, its playbooks, the lab, the inventory, the state store, the caller."""
from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path

from stratus_cli.errors import CliError

COLLECTION_ENV = "STRATUS_COLLECTION_DIR"


def _is_collection(path: Path) -> bool:
    return (path / "galaxy.yml").is_file() and (path / "playbooks" / "provision.yml").is_file() \
        or (path / "MANIFEST.json").is_file() and (path / "playbooks" / "provision.yml").is_file()


def _collection_paths() -> list[Path]:
    raw = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS") or ""
    paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    paths += [Path("~/.ansible/collections").expanduser(), Path("/usr/share/ansible/collections")]
    return paths


def find_collection() -> Path:
    """The stratus.compute collection: $STRATUS_COLLECTION_DIR, the checkout this CLI lives in,
    a collections path, or the checkout the current directory is in."""
    explicit = os.environ.get(COLLECTION_ENV)
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not _is_collection(path):
            raise CliError("ConfigurationError", "%s is not the stratus.compute collection (no playbooks/provision.yml)"
                           % path, COLLECTION_ENV)
        return path
    here = Path(__file__).resolve()
    candidates = list(here.parents)
    for base in _collection_paths():
        root = base if base.name == "ansible_collections" else base / "ansible_collections"
        candidates.append(root / "stratus" / "compute")
    cwd = Path.cwd().resolve()
    candidates += [cwd] + list(cwd.parents)
    for path in candidates:
        if _is_collection(path):
            return path.resolve()
    raise CliError("ConfigurationError", "cannot find the stratus.compute collection: install it "
                   "(ansible-galaxy collection install) or point %s at a checkout" % COLLECTION_ENV, COLLECTION_ENV)


@dataclasses.dataclass
class Settings:
    """What every command needs to run a playbook; built from global options and environment."""

    inventories: list[str] = dataclasses.field(default_factory=list)
    lab_dir: t.Optional[str] = None
    db_url: t.Optional[str] = None
    state_dir: t.Optional[str] = None
    playbook_dir: t.Optional[str] = None
    user_id: t.Optional[str] = None
    project_id: t.Optional[str] = None
    roles: list[str] = dataclasses.field(default_factory=list)
    quiet: bool = False
    _collection: t.Optional[Path] = None

    @property
    def collection(self) -> Path:
        if self._collection is None:
            self._collection = find_collection()
        return self._collection

    @property
    def lab(self) -> Path:
        return Path(self.lab_dir).expanduser().resolve() if self.lab_dir else self.collection / ".lab"

    @property
    def playbooks(self) -> Path:
        return Path(self.playbook_dir).expanduser().resolve() if self.playbook_dir else self.collection / "playbooks"

    def inventory_sources(self) -> list[str]:
        """-i/STRATUS_INVENTORY if given, else the lab's hypervisors (if the lab is up) plus the demo catalog."""
        if self.inventories:
            missing = [i for i in self.inventories if "," not in i and not Path(i).expanduser().exists()]
            if missing:
                raise CliError("ConfigurationError", "inventory %s does not exist" % missing[0], "inventory")
            return [str(Path(i).expanduser().resolve()) if "," not in i else i for i in self.inventories]
        sources = []
        lab_inventory = self.lab / "inventory.yml"
        if lab_inventory.is_file():
            sources.append(str(lab_inventory))
        sources.append(str(self.collection / "inventory" / "demo.yml"))
        return sources

    def store_env(self) -> dict[str, str]:
        """STRATUS_DB_URL or STRATUS_STATE_DIR for the run; by default the lab's store, as the Makefile has it."""
        if self.db_url:
            return {"STRATUS_DB_URL": self.db_url}
        if self.state_dir:
            return {"STRATUS_STATE_DIR": str(Path(self.state_dir).expanduser().resolve())}
        return {"STRATUS_STATE_DIR": str(self.lab / "store")}

    def identity_env(self) -> dict[str, str]:
        """STRATUS_USER_ID, STRATUS_PROJECT_ID and STRATUS_ROLES for the run, from --user/--project/--role.

        Empty when none was given (nor their STRATUS_* variables): the inventory's stratus_context
        then names the caller.
        """
        context = self.context()
        if context is None:
            return {}
        return {"STRATUS_USER_ID": context["user_id"], "STRATUS_PROJECT_ID": context["project_id"],
                "STRATUS_ROLES": ",".join(context["roles"])}

    def context(self) -> t.Optional[dict[str, t.Any]]:
        """The request context from --user/--project/--role, or None for the inventory's stratus_context."""
        if not (self.user_id or self.project_id or self.roles):
            return None
        if not (self.user_id and self.project_id):
            raise CliError("InvalidInput", "--user and --project go together (or STRATUS_USER_ID and "
                           "STRATUS_PROJECT_ID)", "--project" if self.user_id else "--user", exit_code=2)
        return {"user_id": self.user_id, "project_id": self.project_id, "roles": list(self.roles or ["member"])}
