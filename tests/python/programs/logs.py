# SPDX-License-Identifier: MIT
# Logs through `logging` (test_sessions.py): run by `python3 -m pytrace` (forwarding by default,
# or not), or by plain python3 with --attach: attach(logging=True), then forward_logging()
# switched off and on, then detach. Only the records logged while forwarding is on
# ("one", "two") are to be recorded.
import logging
import sys

import pytrace

attach = "--attach" in sys.argv
log = logging.getLogger("shim")
log.addHandler(logging.NullHandler())  # nothing on stderr (logging.lastResort)
if attach:
    pytrace.attach(logging=True)
log.warning("one")
if attach:
    pytrace.forward_logging(False)
    log.warning("off")
    pytrace.forward_logging()
log.info("two")
if attach:
    pytrace.detach()
    log.warning("detached")
print("done")
