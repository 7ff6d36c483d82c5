# SPDX-License-Identifier: MIT
"""The server of bench/flask_wrk.py: a Flask app with one route doing little work
(`/item/<int:n>`: a sum and a formatted string) and one saying whether its request is recorded
(`/recording`), on 127.0.0.1, served by werkzeug's threaded server (a thread per connection,
HTTP/1.0: as `app.run()` serves) or by waitress (four threads, keep-alive connections).

    flask_server.py [--instrument] [--server werkzeug|waitress] [PORT]
    flask_server.py [--instrument] --test-client N

--instrument: `pytrace.flask.Pytrace(app)` (request events); without it pytrace is never
imported. PORT 0 (the default) picks a free port. Prints `serving on PORT` once it listens;
SIGTERM stops it and it prints `served N requests, M hooked` before exiting with status 0:
counted by an after_request hook in every mode, M being the requests that ended while a profile
function or a sys.monitoring tool's events were on (libpytrace's hooks: expected only while a
session records function events). The servers' logs are off: a line per request on a pipe
would measure the pipe. --test-client N serves nothing: it sends N requests to `/item/42`
through Flask's test client, in this thread (the app's own cost, without a server or sockets:
what `bench/flask_wrk.py --instructions` counts), then prints the same line.
"""
import itertools
import logging
import signal
import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

args = sys.argv[1:]
instrument = "--instrument" in args
args = [a for a in args if a != "--instrument"]
kind, n_requests = "werkzeug", 0
if "--server" in args:
    i = args.index("--server")
    kind = args[i + 1]
    del args[i:i + 2]
if "--test-client" in args:
    i = args.index("--test-client")
    kind, n_requests = "test-client", int(args[i + 1])
    del args[i:i + 2]
if kind not in ("werkzeug", "waitress", "test-client"):
    sys.exit(f"flask_server.py: unknown server {kind!r} (werkzeug or waitress)")
port = int(args[0]) if args else 0

app = Flask("bench_flask_server")
if instrument:
    from pytrace.flask import Pytrace, current_request_id

    Pytrace(app)
logging.getLogger("werkzeug").setLevel(logging.ERROR)
logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth is N" under load
served = itertools.count()  # next() is one C call: no update lost between threads
hooked = itertools.count()
monitoring = getattr(sys, "monitoring", None)  # 3.12+


def hooks_on():
    if sys.getprofile() is not None:
        return True
    return monitoring is not None and any(monitoring.get_events(t) for t in range(6))


@app.after_request
def count(response):
    next(served)
    if hooks_on():
        next(hooked)
    return response


@app.route("/item/<int:n>")
def item(n):
    return f"item {n}: {sum(range(n))}\n"


@app.route("/recording")
def recording():
    """'yes' while this request is recorded: bench/flask_wrk.py measures a recording mode only
    once it is (liblttng-ust registers with a busy session daemon late, and the process records
    nothing before)."""
    return "yes" if instrument and current_request_id() is not None else "no"


def serve_werkzeug():
    server = make_server("127.0.0.1", port, app, threaded=True)
    # shutdown() waits for serve_forever(), so it cannot be called from this thread's handler.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"serving on {server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()


def serve_waitress():
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)

    # run() ends on SystemExit in its loop, after stopping its threads.
    def stop(*_):
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    print(f"serving on {server.effective_port}", flush=True)
    server.run()
    server.close()


def serve_test_client():
    client = app.test_client()
    for _ in range(n_requests):
        client.get("/item/42")


{"werkzeug": serve_werkzeug, "waitress": serve_waitress, "test-client": serve_test_client}[kind]()
# Requests still being served (werkzeug's daemon threads are never joined) are counted too.
for t in threading.enumerate():
    if t is not threading.current_thread():
        t.join(5)
print(f"served {next(served)} requests, {next(hooked)} hooked", flush=True)
