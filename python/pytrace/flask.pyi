# SPDX-License-Identifier: MIT
"""Type stubs of pytrace.flask."""
from typing import Optional

import flask

class Pytrace:
    lab_records: bool
    app: Optional[flask.Flask]
    def __init__(self, app: Optional[flask.Flask] = ..., *, lab_records: bool = ...) -> None: ...
    def init_app(self, app: flask.Flask) -> flask.Flask: ...

def instrument(app: flask.Flask, *, lab_records: bool = ...) -> Pytrace: ...
def current_request_id() -> Optional[int]: ...
