# SPDX-License-Identifier: MIT
# A Flask application instrumented with pytrace.flask, driven by Flask's test client on one
# thread (test_chrome.py knows REQUESTS): every status, the W3C traceparent valid, invalid and
# absent, and a span inside a view.
import pytrace
from flask import Flask, abort
from pytrace.flask import Pytrace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"

app = Flask("webapp")
Pytrace(app)
app.logger.disabled = True  # the 500 of /boom: no traceback on stderr


def square(n):
    return n * n


@app.route("/")
def index():
    return "index"


@app.route("/work/<int:n>")
def work(n):
    with pytrace.span("compute", n=str(n)):
        return str(sum(square(i) for i in range(n)))


@app.route("/boom")
def boom():
    raise ValueError("boom")


@app.route("/forbidden")
def forbidden():
    abort(403)


# (path, traceparent header or None)
REQUESTS = [
    ("/", f"00-{TRACE}-{PARENT}-01"),
    ("/work/3", f"00-{TRACE}-{PARENT}-01"),
    ("/work/2", None),
    ("/boom", f"00-{TRACE.upper()}-{PARENT}-01"),
    ("/missing", None),
    ("/forbidden", None),
]

client = app.test_client()
for path, tp in REQUESTS:
    r = client.get(path, headers={"traceparent": tp} if tp else {})
    print(path, r.status_code)
