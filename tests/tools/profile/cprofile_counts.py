# SPDX-License-Identifier: MIT
"""Run a program under cProfile; print as JSON what pstats holds for its own functions:
[[line, co_name, primitive calls, total calls], ...]. Runs with the CPython that pytrace-run
embeds (test_profile.py), so both see the same interpreter."""
import cProfile
import json
import os
import pstats
import runpy
import sys

path = os.path.abspath(sys.argv[1])
prof = cProfile.Profile()
prof.enable()
runpy.run_path(path, run_name="__main__")
prof.disable()
rows = [[line, name, cc, nc] for (file, line, name), (cc, nc, _tt, _ct, _callers)
        in pstats.Stats(prof).stats.items() if os.path.abspath(file) == path]
print(json.dumps(sorted(rows)))
