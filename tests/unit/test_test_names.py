"""One pytest run collects every test folder (tests/run.sh), and without packages pytest imports test
files by basename: two test files of one name make the run fail at collection. Say which, at once."""
from __future__ import annotations

import collections
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
COLLECTED = ("unit", "integration", "e2e")  # tests/unit/plugins runs under ansible-test units, as a package


def test_test_file_basenames_are_unique_across_the_collected_folders() -> None:
    seen: dict[str, list[str]] = collections.defaultdict(list)
    for folder in COLLECTED:
        for path in (TESTS / folder).rglob("test_*.py"):
            if (path.parent / "__init__.py").exists():
                continue  # a package's modules are imported by their dotted name
            seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, "test files of the same name (pytest cannot collect both): %s" % clashes
