# SPDX-License-Identifier: MIT
"""The `logging` module on a hot path: three loggers under one parent whose StreamHandler formats
every record (time, level, name, %-arguments) into an in-memory stream; debug records are filtered
out by level, a tenth of the records are warnings with an extra dict. size = records."""
import io
import logging

import benchlib


def make(size):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    parent = logging.getLogger("bench")
    parent.handlers[:] = [handler]
    parent.setLevel(logging.INFO)
    parent.propagate = False
    loggers = [logging.getLogger(f"bench.{n}") for n in ("db", "http", "cache")]

    def work():
        stream.seek(0)
        stream.truncate()
        for i in range(size):
            log = loggers[i % 3]
            log.info("request %d done in %.1f ms", i, i * 0.25)
            log.debug("cache state %r", i)
            if i % 10 == 0:
                log.warning("slow request %s", i, extra={"request_id": i})

    return work


if __name__ == "__main__":
    benchlib.main(make, "logging", default_size=12000, quick_size=1200)
