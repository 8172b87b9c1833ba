# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put community.libvirt (from the pinned `ansible` wheel) into a bench-only collections path.

The shared virtualenv keeps ansible-core alone: the `ansible` package would bring a hundred
collections and its own core pin. This downloads the wheel pinned in requirements.txt beside
this file (pip, no dependencies) and extracts ansible_collections/community/libvirt only, into
build/peer-collections (git-ignored). Does nothing when that version is already there.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGET = ROOT / "build" / "peer-collections"
MEMBER = "ansible_collections/community/libvirt/"


def pinned() -> str:
    for line in (HERE / "requirements.txt").read_text().splitlines():
        found = re.fullmatch(r"ansible==(\S+)", line.strip())
        if found:
            return found.group(1)
    raise SystemExit("bench/peer/requirements.txt pins no ansible version")


def main() -> int:
    version = pinned()
    stamp = TARGET / "ansible-version"
    if stamp.exists() and stamp.read_text().strip() == version and (TARGET / MEMBER / "MANIFEST.json").exists():
        return 0
    download = TARGET / "download"
    download.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--only-binary", ":all:", "ansible==%s" % version, "-d", str(download)],
                          capture_output=True, text=True, check=False)
    wheels = sorted(download.glob("ansible-%s-*.whl" % version))
    if proc.returncode != 0 or not wheels:
        print("peer: cannot download ansible==%s: %s" % (version, proc.stderr.strip()[-1000:]), file=sys.stderr)
        return 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(MEMBER)]
        wheel.extractall(TARGET, members)
    wheels[0].unlink()  # 50 MB, and only this one collection is used
    collection = json.loads((TARGET / MEMBER / "MANIFEST.json").read_text())["collection_info"]["version"]
    stamp.write_text(version + "\n")
    print("peer: community.libvirt %s (from ansible %s) in %s" % (collection, version, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
