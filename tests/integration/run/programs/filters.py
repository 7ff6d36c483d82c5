# SPDX-License-Identifier: MIT
# Traced with PYTRACE_INCLUDE / PYTRACE_EXCLUDE / PYTRACE_MAX_DEPTH by test_filters.py.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import filterpkg  # noqa: E402


def down(n):
    return 0 if n == 0 else 1 + down(n - 1)


def main():
    total = filterpkg.outer(3) + down(4)
    print(json.dumps({"total": total}))


main()
