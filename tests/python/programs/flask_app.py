# SPDX-License-Identifier: MIT
"""A Flask application for tests/python/test_flask.py, instrumented with pytrace.flask.

    flask_app.py client [--lab] [--plain]   requests through Flask's test client, one thread
    flask_app.py server [--lab] [--plain]   a real threaded werkzeug server on 127.0.0.1 and
                                            THREADS client threads sending requests at once

--plain: not instrumented (the untraced reference of the same program); --lab: lab_records.

Prints one JSON line per request, in the order sent by each client, with what the client saw:
{"method", "path", "status", "body", "request_id", "thread", "ident", "traceparent"}. The
response headers say which request id and which server thread served it (set by an
after_request hook of the application, registered before pytrace's, so that it runs first);
stdout without the ids and threads must be identical traced and untraced.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

from flask import Flask, abort, request

PLAIN = "--plain" in sys.argv
LAB = "--lab" in sys.argv
THREADS = 6
ROUNDS = 4
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"

app = Flask("flaskapp")


@app.before_request
def early_answer():
    # Another application hook that answers some requests itself: they are recorded too.
    if request.path == "/early":
        return "answered early", 203
    return None


@app.after_request
def who_served(response):
    from pytrace.flask import current_request_id
    rid = None if PLAIN else current_request_id()
    response.headers["X-Request-Id"] = "" if rid is None else str(rid)
    response.headers["X-Thread"] = threading.current_thread().name
    response.headers["X-Ident"] = str(threading.get_ident())
    return response


def square(n):
    return n * n


def total(n):
    return sum(square(i) for i in range(n))


@app.route("/")
def index():
    return "index"


@app.route("/work/<int:n>")
def work(n):
    return str(total(n))


@app.route("/boom")
def boom():
    raise ValueError("boom")


@app.route("/forbidden")
def forbidden():
    abort(403)


@app.route("/slow")
def slow():
    time.sleep(0.02)
    return "slow"


if not PLAIN:
    from pytrace.flask import Pytrace
    Pytrace(app, lab_records=LAB)

# (path, traceparent header or None): every kind of request, a valid traceparent, an invalid
# one (uppercase hex) and none.
REQUESTS = [
    ("/", f"00-{TRACE}-{PARENT}-01"),
    ("/work/5", None),
    ("/boom", f"00-{TRACE.upper()}-{PARENT}-01"),
    ("/missing", None),
    ("/forbidden", None),
    ("/early", f"00-{TRACE}-{PARENT}-00"),
    ("/slow", None),
]


def line(path, tp, status, body, headers):
    return {"method": "GET", "path": path, "status": status, "body": body,
            "request_id": headers.get("X-Request-Id") or None,
            "thread": headers.get("X-Thread"), "ident": int(headers.get("X-Ident")),
            "traceparent": tp}


def client():
    c = app.test_client()
    for path, tp in REQUESTS:
        r = c.get(path, headers={"traceparent": tp} if tp else {})
        print(json.dumps(line(path, tp, r.status_code, r.get_data(as_text=True)[:30],
                              r.headers)), flush=True)


def server():
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    port = srv.server_port
    serving = threading.Thread(target=srv.serve_forever, name="serving")
    serving.start()
    out, lock = [], threading.Lock()

    def send(k):
        for r in range(ROUNDS):
            path, tp = REQUESTS[(k + r) % len(REQUESTS)]
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"traceparent": tp} if tp else {})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status, body, headers = resp.status, resp.read(), resp.headers
            except urllib.error.HTTPError as e:
                status, body, headers = e.code, e.read(), e.headers
            with lock:
                out.append(line(path, tp, status, body.decode()[:30], headers))

    clients = [threading.Thread(target=send, args=(k,), name=f"client-{k}")
               for k in range(THREADS)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    srv.shutdown()
    serving.join()
    for o in sorted(out, key=lambda o: (o["path"], o["status"], o["request_id"] or "")):
        print(json.dumps(o), flush=True)


if __name__ == "__main__":
    {"client": client, "server": server}[sys.argv[1]]()
