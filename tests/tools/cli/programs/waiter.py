# SPDX-License-Identifier: MIT
# Waits for a signal: prints "ready", then "got N" for the first SIGTERM or SIGINT it receives,
# and exits with status 40 + N. tests/tools/cli sends the signal to `pytrace`, which forwards it.
import signal
import sys
import time

got = []


def handler(signum, frame):
    got.append(signum)


signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
print("ready", flush=True)
deadline = time.monotonic() + 60
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
print("got", got, flush=True)
sys.exit(40 + got[0] if got else 1)
