# SPDX-License-Identifier: MIT
"""A program that configures nothing: logging.getLogger("app").info() (as Flask's
app.logger.info()) reaches LTTng while a session records, as with lttngust."""
import logging

logging.getLogger("app").info("info from app")
logging.getLogger("app").debug("debug from app")
root = logging.getLogger()
print("root", [type(h).__name__ for h in root.handlers], root.level)
