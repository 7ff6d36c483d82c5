# SPDX-License-Identifier: MIT
"""A program that configures nothing: logging.getLogger("app").info() (as Flask's
app.logger.info()) reaches LTTng while a session records, as with lttngust."""
import logging

logging.getLogger("app").info("info from app")
logging.getLogger("app").debug("debug from app")
root = logging.getLogger()
print("root", [type(h).__name__ for h in root.handlers], root.level)
# what is seen while a session records: logging.Logger's methods wrapped (LoggerMethod)
print("methods", *(type(logging.Logger.__dict__[m]).__name__
                   for m in ("isEnabledFor", "handle", "callHandlers")))
