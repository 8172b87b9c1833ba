# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m stratus_lab up|down|status|daemon: the lab's command line (stratus_lab.lab)."""
import sys

from stratus_lab.lab import main

sys.exit(main())
