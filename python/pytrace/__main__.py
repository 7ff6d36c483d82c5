# SPDX-License-Identifier: MIT
"""python3 -m pytrace [--c-calls] [--no-logging] [--] script.py|-m module|-c command [args...]:
see _cli.py."""
import sys

from pytrace._cli import main

sys.exit(main())
