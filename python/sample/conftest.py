"""A sample consumer test setup: the Flask snippet (examples/webhooks/flask_app.py) runs in a
thread, and the `inboxkit_mock` fixture (from the wheel's pytest plugin) points at it."""

import os
import threading

import pytest

SECRET = "whsec_sample_secret"
os.environ["INBOXKIT_WEBHOOK_SECRET"] = SECRET

import flask_app  # noqa: E402  (reads the secret from the environment)
from werkzeug.serving import make_server  # noqa: E402


@pytest.fixture(scope="session")
def app_url():
    server = make_server("127.0.0.1", 0, flask_app.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def inboxkit_mock_options(app_url):
    return {"webhook_url": f"{app_url}/webhooks/inboxkit", "secret": SECRET}


@pytest.fixture
def processed():
    """What the app processed, per uid (the app's own view, to compare with the journal)."""

    def by_uid(uid):
        return [e["status"] for e in flask_app.processed if e["uid"] == uid]

    return by_uid
