"""inboxkit-mock for Python: the mock InboxKit as a child process, a typed client for its REST
and control APIs, and a pytest plugin (fixture `inboxkit_mock`).

```python
from inboxkit_mock import MockServer

with MockServer(webhook_url="http://127.0.0.1:5000/webhooks/inboxkit", secret="whsec_x") as mock:
    uid = mock.register_domain("acme-mail.com")
    mock.advance("20m")
    mock.wait_for(uid=uid, status="active")
    mock.assert_delivered(uid=uid, status="active")
```
"""

from ._binary import BinaryNotFound, find_binary
from .client import (
    TERMINAL_STATES,
    AssertionFailed,
    ClockState,
    Delivery,
    InboxKitMock,
    MockError,
    Triggered,
    journal_table,
    kind_of,
)
from .server import MockServer, MockStartError

__all__ = [
    "TERMINAL_STATES",
    "AssertionFailed",
    "BinaryNotFound",
    "ClockState",
    "Delivery",
    "InboxKitMock",
    "MockError",
    "MockServer",
    "MockStartError",
    "Triggered",
    "find_binary",
    "journal_table",
    "kind_of",
]
