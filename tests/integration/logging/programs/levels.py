# SPDX-License-Identifier: MIT
"""Logs every level on several loggers (root, app, its child app.sub, other, a thread), an
exception with its traceback, and a stack; prints each record the root logger's handlers get as
a JSON line (the oracle of the tests). `--lttngust` imports the official agent first."""
import json
import logging
import sys
import threading

if "--lttngust" in sys.argv:
    import lttngust  # noqa: F401  (registers with the session daemon, handler on root)


class Oracle(logging.Handler):
    fmt = logging.Formatter("%(asctime)s")

    def emit(self, record):
        print(json.dumps({
            "asctime": self.fmt.format(record),
            "msg": record.getMessage(),
            "logger_name": record.name,
            "funcName": record.funcName,
            "lineno": record.lineno,
            "int_loglevel": record.levelno,
            "thread": record.thread & 0xFFFFFFFF,
            "threadName": record.threadName,
        }), flush=True)


logging.getLogger().addHandler(Oracle())
# Every record reaches the root's handlers (the oracle), as every record reaches the official
# agent's handler: its root level is NOTSET.
logging.getLogger().setLevel(logging.NOTSET)
LOGGERS = [logging.getLogger(), logging.getLogger("app"), logging.getLogger("app.sub"),
           logging.getLogger("other")]
LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]


def every_level(tag):
    for lg in LOGGERS:
        for lv in LEVELS:
            lg.log(lv, "%s %s level %d: é ü %r", tag, lg.name, lv, {"k": [1, 2]})


def worker():
    every_level("thread")


def failing():
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("app").exception("lookup failed for %s", "missing")


every_level("main")
t = threading.Thread(target=worker, name="worker-1")
t.start()
t.join()
failing()
logging.getLogger("app").warning("with stack", stack_info=True)
logging.getLogger("other").info("%d%% done", 50)
print("end", file=sys.stderr)
