# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), for machines without ci-files.testing.ansible.com.

ansible-test creates each of its virtual environments without pip, then runs
``~/.ansible/test/cache/get_pip_<version>.py`` inside it, with pip install
arguments (``--disable-pip-version-check pip==<version> --no-setuptools --no-wheel``).
tests/sanity.sh copies this file there and puts the pip wheel of that version
beside it (``pip download``, so through the configured package index). This
script runs pip straight from that wheel (a wheel is an importable zip) to
install the wheel itself into the environment, without touching the network.
"""
from __future__ import annotations

import glob
import os
import sys

# get-pip.py's own options; pip install does not know them.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    version = os.path.splitext(os.path.basename(__file__))[0].split("_", 2)[-1].replace("_", ".")
    wheels = glob.glob(os.path.join(here, "pip-%s-*.whl" % version))
    if not wheels:
        sys.stderr.write("get_pip: no pip %s wheel in %s; run tests/sanity.sh, which downloads it\n" % (version, here))
        return 1
    sys.path.insert(0, wheels[0])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    return pip_main(["install", "--no-index", "--find-links", here, "--upgrade", "--force-reinstall"] + args)


if __name__ == "__main__":
    sys.exit(main())
