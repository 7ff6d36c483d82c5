# SPDX-License-Identifier: MIT
# The process ends inside deep() (os._exit: no return is recorded), so <module>, main and deep
# are still open when the trace ends (test_profile.py).
import os
import sys


def deep():
    sys.stdout.flush()
    os._exit(0)


def main():
    deep()


main()
