# SPDX-License-Identifier: MIT
"""The program the agent tests run under pytrace-run: creates the loggers named on its command
line, says `ready`, then obeys stdin, one command per line:

  ping        answers `pong` (the program is responsive)
  busy N      holds the GIL for N seconds, in C (libc's sleep() through ctypes.PyDLL, which
              keeps the GIL), between `busy` and `done`
  (EOF)       prints `bye` and exits 0

With --exit it exits right after creating the loggers (start-up measurements).
"""
import ctypes
import logging
import sys

args = sys.argv[1:]
once = "--exit" in args
for name in args:
    if name != "--exit":
        logging.getLogger(name)
print("ready", flush=True)
if not once:
    for line in sys.stdin:
        cmd = line.split()
        if cmd == ["ping"]:
            print("pong", flush=True)
        elif cmd and cmd[0] == "busy":
            print("busy", flush=True)
            ctypes.PyDLL(None).sleep(int(cmd[1]))
            print("done", flush=True)
print("bye", flush=True)
