# SPDX-License-Identifier: MIT
# Requests for test_stack.py: pytrace.flask with Flask's test client, one thread, one request
# per outcome: a route with an endpoint, a 404 (no endpoint: "-" in the trace), an error.
from flask import Flask

from pytrace.flask import Pytrace

app = Flask("shopapp")
app.config["PROPAGATE_EXCEPTIONS"] = False


def price(n):
    return n * 3


@app.route("/items/<int:n>")
def item(n):
    return str(price(n))


@app.route("/boom")
def boom():
    raise ValueError("boom")


Pytrace(app)
client = app.test_client()
for path in ("/items/2", "/missing", "/boom"):
    print(path, client.get(path).status_code)
