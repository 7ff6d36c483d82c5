# SPDX-License-Identifier: MIT
"""The server of the Trace Compass "Python XML analysis" lab (tuxology/tracevizlab,
labs/204-tracing-python), instrumented with pytrace.flask (README.md next to this file).

    python3 server.py [PORT]            # or PORT=8080 python3 server.py; default 5000

The lab's routes and sleeps, each with a little real Python work so that the function events
differ from route to route: `/resource1` serialises a document, `/resource2` computes primes,
`/resource3` goes through a chain of helpers, `/resource4` raises and catches an exception.
Serves threaded (a thread per request) on 127.0.0.1; port 0 picks a free port. Prints
`serving on http://127.0.0.1:PORT` once it listens; SIGTERM or SIGINT stops it with exit
status 0.
"""
import json
import os
import signal
import sys
import threading
import time

from flask import Flask
from werkzeug.serving import make_server

from pytrace.flask import Pytrace

app = Flask(__name__)
# The request events, and the lab's tracing_entry/tracing_exit logging records for its analysis.
Pytrace(app, lab_records=True)


class NotInStock(Exception):
    pass


STOCK = {"tea": 3, "cake": 0, "scone": 7}


@app.route("/")
def hello():
    time.sleep(0.01)
    return "Hello World"


@app.route("/resource1")
def resource1():
    time.sleep(0.05)
    doc = {"items": [{"name": k, "qty": v} for k, v in sorted(STOCK.items())]}
    json.dumps(doc, sort_keys=True)
    return "resource"


def primes(limit):
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\0\0"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n::n] = bytes(len(range(n * n, limit + 1, n)))
    return [n for n in range(limit + 1) if sieve[n]]


@app.route("/resource2")
def resource2():
    time.sleep(0.042)
    sum(primes(20000))
    return "resource"


def parse(order):
    return [item.split(":") for item in order.split(",")]


def validate(lines):
    return [(name, int(qty)) for name, qty in lines if name in STOCK]


def price(lines):
    return sum(qty * len(name) for name, qty in lines)


def quote(order):
    return price(validate(parse(order)))


@app.route("/resource3")
def resource3():
    time.sleep(0.0156)
    quote("tea:2,scone:1,jam:4")
    return "resource"


def take(name, qty):
    if STOCK.get(name, 0) < qty:
        raise NotInStock(name)
    return qty


@app.route("/resource4")
def resource4():
    time.sleep(0.0273)
    try:
        take("cake", 1)
    except NotInStock:
        pass
    return "resource"


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "5000")
    # Checked here: a port above 65535 would be bound modulo 65536.
    if not arg.isdigit() or int(arg) > 65535:
        sys.exit(f"server.py: {arg!r} is not a TCP port (0 to 65535; 0: any free port)")
    port = int(arg)
    server = make_server("127.0.0.1", port, app, threaded=True)

    # serve_forever() returns once shutdown() is called from another thread (shutdown() waits
    # for the loop, so the handler, which runs in this thread, must not call it itself).
    def stop(signum, frame):
        threading.Thread(target=server.shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
