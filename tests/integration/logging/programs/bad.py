# SPDX-License-Identifier: MIT
"""Bad input: none of it may raise into the program or change its output or exit code. Each
failing record is reported by handleError() on stderr ("--- Logging error ---")."""
import logging
import sys

log = logging.getLogger("bad")
log.setLevel(logging.INFO)  # not the root's: the records are created whatever its level


class NoStr:
    def __str__(self):
        raise ValueError("no __str__ today")


log.info("wrong %d arguments", "x")          # TypeError in getMessage()
log.info(NoStr())                             # ValueError in str(msg)
log.info(42)                                  # not a string: recorded as "42"
log.info({"a": 1})                            # recorded as "{'a': 1}"
log.info("undecodable \udcff text")            # lone surrogate: recorded escaped
log.info("x" * (3 << 20))                     # larger than a sub-buffer: LTTng drops it
log.info("after")
print("survived")
sys.exit(3)
