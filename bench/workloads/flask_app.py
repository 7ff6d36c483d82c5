# SPDX-License-Identifier: MIT
"""A Flask application driven by its test client: several routes (plain text, URL converters and
JSON, a POST with a JSON body, a Jinja template, a redirect, a 404, before/after request hooks).
size = rounds of six requests. Skipped (reported as such) when Flask is not importable."""
import benchlib

TEMPLATE = """<ul>{% for item in items %}<li class="{{ loop.cycle('odd', 'even') }}">
{{ item.name | title }}: {{ "%.2f" | format(item.price) }}</li>{% endfor %}</ul>"""


def create_app():
    from flask import Flask, g, jsonify, redirect, render_template_string, request, url_for

    app = Flask("bench_app")
    app.testing = True
    items = {}

    @app.before_request
    def before():
        g.user = request.headers.get("X-User", "anonymous")

    @app.after_request
    def after(response):
        response.headers["X-Served-By"] = "bench"
        return response

    @app.route("/")
    def index():
        return "hello " + g.user

    @app.route("/users/<int:uid>")
    def user(uid):
        return jsonify(id=uid, name=f"user{uid}", admin=uid % 7 == 0)

    @app.route("/items", methods=["POST"])
    def add_item():
        data = request.get_json()
        items[data["name"]] = data
        return jsonify(count=len(items)), 201

    @app.route("/page/<name>")
    def page(name):
        rows = [{"name": f"{name} {i}", "price": i * 1.5} for i in range(5)]
        return render_template_string(TEMPLATE, items=rows)

    @app.route("/old")
    def old():
        return redirect(url_for("index"))

    return app


def make(size):
    client = create_app().test_client()

    def work():
        for i in range(size):
            client.get("/", headers={"X-User": "bench"})
            client.get(f"/users/{i}")
            client.post("/items", json={"name": f"item{i % 50}", "price": i})
            client.get(f"/page/p{i % 5}")
            client.get("/old")
            client.get("/missing")

    return work


if __name__ == "__main__":
    benchlib.main(make, "flask", default_size=60, quick_size=8, requires=("flask",))
