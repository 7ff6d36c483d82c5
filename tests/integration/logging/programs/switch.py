# SPDX-License-Identifier: MIT
"""Switches forwarding from Python through the _libpytrace module; prints the root logger's
handlers and level at each step."""
import logging

import _libpytrace

log = logging.getLogger("switch")


def state(tag):
    root = logging.getLogger()
    print(tag, _libpytrace.logging_enabled(), [type(h).__name__ for h in root.handlers],
          root.level, flush=True)


state("start")
log.warning("one")
_libpytrace.logging_disable()
state("disabled")
log.warning("two")
_libpytrace.logging_enable()
state("enabled")
log.warning("three")
