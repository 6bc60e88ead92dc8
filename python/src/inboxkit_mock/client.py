"""A typed client for a running mock: the InboxKit REST API (`/v1/api`) and the control API
(`/_mock`). Standard library only; every request is JSON with `Content-Type: application/json`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

#: Delivery states that end a delivery.
TERMINAL_STATES = ("delivered", "rejected", "exhausted")

#: The control API's path segment of each entity kind, by uid prefix.
_KIND_BY_PREFIX = (
    ("domain-", "domains"),
    ("mailbox-", "mailboxes"),
    ("consent-", "consent_requests"),
    ("clientid-", "client_id_requests"),
)

Duration = Union[str, float, int, _dt.timedelta]


class MockError(RuntimeError):
    """The mock answered with an error (RFC 7807 problem on `/_mock`, `{error, message}` on REST)."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        detail = body
        if isinstance(body, dict):
            detail = body.get("detail") or body.get("message") or body
        self.code: Optional[str] = body.get("code") if isinstance(body, dict) else None
        super().__init__(f"{method} {url}: HTTP {status}: {detail}")


class AssertionFailed(AssertionError):
    """A journal assertion did not hold; the message ends with the journal as a table."""


@dataclass(frozen=True)
class Delivery:
    """One journaled event (a summary; `InboxKitMock.delivery(id)` has every attempt)."""

    id: str
    event: str
    entity_uid: Optional[str]
    status: Optional[str]
    previous_status: Optional[str]
    state: str
    attempts: int
    last_outcome: Optional[str]
    target: str
    created_at: str
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Whether the delivery has ended (`delivered`, `rejected` or `exhausted`)."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "Delivery":
        """Builds a summary from one item of `GET /_mock/deliveries`."""
        return cls(
            id=str(value["id"]),
            event=str(value["event"]),
            entity_uid=value.get("entity_uid"),
            status=value.get("status"),
            previous_status=value.get("previous_status"),
            state=str(value["state"]),
            attempts=int(value.get("attempts") or 0),
            last_outcome=value.get("last_outcome"),
            target=str(value.get("target", "")),
            created_at=str(value.get("created_at", "")),
            raw=dict(value),
        )


@dataclass(frozen=True)
class ClockState:
    """The simulated clock; `fired` is set by `advance` (transitions that came due)."""

    now: str
    paused: bool
    fired: Optional[int] = None
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "ClockState":
        """Reads the fields that every clock answer has (others are kept in `raw`)."""
        fired = value.get("fired")
        return cls(
            now=str(value["now"]),
            paused=bool(value["paused"]),
            fired=int(fired) if isinstance(fired, (int, float)) else None,
            raw=dict(value),
        )


@dataclass(frozen=True)
class Triggered:
    """The answer to `trigger`: the delivery id and the body that is being sent."""

    delivery_id: str
    event: str
    body: Mapping[str, Any]


def _duration(value: Duration) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    millis = int(round(float(value) * 1000))
    if millis < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return f"{millis}ms"


def kind_of(uid: str) -> str:
    """The control API's kind (`domains`, `mailboxes`, ...) of an entity uid, by its prefix."""
    for prefix, kind in _KIND_BY_PREFIX:
        if uid.startswith(prefix):
            return kind
    raise ValueError(
        f"cannot tell the kind of {uid!r} from its prefix (domain-, mailbox-, consent-, clientid-)"
    )


def journal_table(deliveries: Sequence[Delivery]) -> str:
    """The deliveries as an aligned text table (oldest first), for failure messages."""
    if not deliveries:
        return "(the journal is empty)"
    header = ("created_at", "event", "uid", "status", "state", "attempts", "last_outcome")
    rows = [header] + [
        (
            d.created_at,
            d.event,
            d.entity_uid or "-",
            d.status or "-",
            d.state,
            str(d.attempts),
            d.last_outcome or "-",
        )
        for d in sorted(deliveries, key=lambda d: d.created_at)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


class InboxKitMock:
    """A client for one running mock.

    `base_url` is the mock's address (e.g. `http://127.0.0.1:8025`); `api_key` is the team API
    key its REST API expects; `admin_token` is sent to `/_mock` when the mock requires one.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        secret: Optional[str] = None,
        admin_token: Optional[str] = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.secret = secret
        self.admin_token = admin_token
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> "InboxKitMock":
        """A client for the mock named by the environment, as the GitHub Action and the CI
        recipes set it: `INBOXKIT_MOCK_URL` (default `http://127.0.0.1:8025`),
        `INBOXKIT_MOCK_API_KEY`, `INBOXKIT_MOCK_SECRET`, `INBOXKIT_MOCK_ADMIN_TOKEN`."""
        env = os.environ
        return cls(
            env.get("INBOXKIT_MOCK_URL", "http://127.0.0.1:8025"),
            env.get("INBOXKIT_MOCK_API_KEY", ""),
            secret=env.get("INBOXKIT_MOCK_SECRET"),
            admin_token=env.get("INBOXKIT_MOCK_ADMIN_TOKEN"),
        )

    # -- plumbing ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        rest: bool = False,
    ) -> Any:
        """Sends one JSON request and returns the decoded answer (raises `MockError` on 4xx/5xx)."""
        url = self.base_url + path
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if rest:
            headers["Authorization"] = f"Bearer {self.api_key}"
        elif self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b"{}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                decoded: Any = json.loads(raw)
            except ValueError:
                decoded = raw.decode(errors="replace")
            raise MockError(method, url, error.code, decoded) from None
        return json.loads(raw) if raw else None

    # -- REST API (what your app calls) -------------------------------------------------------

    def register_domains(self, names: Sequence[str], *, years: int = 1) -> List[str]:
        """`POST /v1/api/domains/register`; returns the new domains' uids, in order."""
        body = {"domains": [{"name": n, "registration_years": years} for n in names]}
        answer = self.request("POST", "/v1/api/domains/register", body, rest=True)
        return [str(uid) for uid in answer["domain_uids"]]

    def register_domain(self, name: str, *, years: int = 1) -> str:
        """Registers one domain; returns its uid (`domain-...`)."""
        return self.register_domains([name], years=years)[0]

    def buy_mailbox(
        self,
        domain_name: str,
        username: str,
        *,
        first_name: str = "Ada",
        last_name: str = "Lovelace",
        platform: str = "GOOGLE",
    ) -> Dict[str, Any]:
        """`POST /v1/api/mailboxes/buy` for one mailbox; returns it (`uid`, `email`, `status`...)."""
        order = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "platform": platform,
            "domain_name": domain_name,
        }
        answer = self.request("POST", "/v1/api/mailboxes/buy", {"mailboxes": [order]}, rest=True)
        return dict(answer["mailboxes"][0])

    def cancel_mailboxes(self, uids: Sequence[str]) -> List[Dict[str, Any]]:
        """`POST /v1/api/mailboxes/cancel`; returns each mailbox's uid and new status."""
        answer = self.request("POST", "/v1/api/mailboxes/cancel", {"uids": list(uids)}, rest=True)
        return [dict(m) for m in answer["mailboxes"]]

    def set_webhook(self, workspace_uid: str, url: str, *, secret: Optional[str] = None) -> None:
        """`POST /v1/api/workspaces/webhook`: the workspace's subscriber URL (and mock secret)."""
        body: Dict[str, Any] = {"uid": workspace_uid, "webhook_url": url}
        if secret is not None:
            body["secret"] = secret
        self.request("POST", "/v1/api/workspaces/webhook", body, rest=True)

    # -- control API (what your tests call) -------------------------------------------------

    def health(self) -> bool:
        """Whether `GET /_mock/ready` answers 200."""
        try:
            self.request("GET", "/_mock/ready")
            return True
        except (MockError, OSError):
            return False

    def clock(self) -> ClockState:
        """`GET /_mock/clock`."""
        return ClockState.from_json(self.request("GET", "/_mock/clock"))

    def pause(self) -> ClockState:
        """Pauses the simulated clock."""
        return ClockState.from_json(self.request("POST", "/_mock/clock/pause"))

    def resume(self) -> ClockState:
        """Lets the simulated clock run again."""
        return ClockState.from_json(self.request("POST", "/_mock/clock/resume"))

    def advance(self, by: Duration) -> ClockState:
        """Moves the clock by `by` (`"10m"`, seconds, or a timedelta); every transition and retry
        that comes due fires, in order, before this returns."""
        answer = self.request("POST", "/_mock/clock/advance", {"by": _duration(by)})
        return ClockState.from_json(answer)

    def trigger(
        self,
        event: str,
        *,
        uid: Optional[str] = None,
        set: Optional[Mapping[str, Any]] = None,  # noqa: A002 - the API's own name
        workspace_id: Optional[str] = None,
    ) -> Triggered:
        """`POST /_mock/events`: sends one event now (about `uid`, or a typical sample), with
        field overrides such as `{"data.domain.status": "active"}` applied before signing."""
        body: Dict[str, Any] = {"event": event}
        if uid is not None:
            body["uid"] = uid
        if set is not None:
            body["set"] = dict(set)
        if workspace_id is not None:
            body["workspace_id"] = workspace_id
        answer = self.request("POST", "/_mock/events", body)
        return Triggered(str(answer["delivery_id"]), str(answer["event"]), answer["body"])

    def transition(self, uid: str, to: str) -> Optional[str]:
        """Forces an entity to status `to` now; returns the id of the delivery it caused.
        An illegal step raises `MockError` (409) naming the allowed ones."""
        path = f"/_mock/{kind_of(uid)}/{urllib.parse.quote(uid)}/transition"
        answer = self.request("POST", path, {"to": to})
        delivery = answer.get("delivery_id")
        return str(delivery) if delivery is not None else None

    def entity(self, uid: str) -> Dict[str, Any]:
        """`GET /_mock/{kind}/{uid}`: the entity, its workspace and its allowed transitions."""
        return dict(self.request("GET", f"/_mock/{kind_of(uid)}/{urllib.parse.quote(uid)}"))

    def world(self) -> Dict[str, Any]:
        """`GET /_mock/world`: seed, team, workspaces (with webhook URLs), entity counts."""
        return dict(self.request("GET", "/_mock/world"))

    def subscriber(self) -> Dict[str, Any]:
        """`GET /_mock/subscriber` (secrets redacted)."""
        return dict(self.request("GET", "/_mock/subscriber"))

    def set_subscriber(self, **settings: Any) -> Dict[str, Any]:
        """`PUT /_mock/subscriber`: `url`, `profile`, `signature_scheme`, `secret`, `api_key`,
        `timeout`, `retry_delays`, `send_authorization`, `auth_token`, `mock_headers`."""
        return dict(self.request("PUT", "/_mock/subscriber", settings))

    def reset(self) -> None:
        """`POST /_mock/reset`: the world from its seed again, the journal emptied."""
        self.request("POST", "/_mock/reset")

    def deliveries(
        self,
        *,
        event: Optional[str] = None,
        uid: Optional[str] = None,
        status: Optional[str] = None,
        state: Optional[str] = None,
        outcome: Optional[str] = None,
    ) -> List[Delivery]:
        """The journal, oldest first, filtered (`status` is the entity status the event carries)."""
        found: List[Delivery] = []
        offset = 0
        while True:
            query: Dict[str, Any] = {"event": event, "uid": uid, "state": state, "outcome": outcome}
            query.update(offset=offset, limit=1000)
            page = self.request("GET", "/_mock/deliveries", query=query)
            items = page.get("deliveries") or []
            found.extend(Delivery.from_json(item) for item in items)
            offset += len(items)
            if not items or offset >= int(page.get("total", 0)):
                break
        if status is not None:
            found = [d for d in found if d.status == status]
        return sorted(found, key=lambda d: (d.created_at, d.id))

    def delivery(self, delivery_id: str) -> Dict[str, Any]:
        """`GET /_mock/deliveries/{id}`: the record with every attempt's request and response."""
        return dict(self.request("GET", f"/_mock/deliveries/{urllib.parse.quote(delivery_id)}"))

    def redeliver(self, delivery_id: str) -> Dict[str, Any]:
        """One manual attempt of a delivery (journaled as `trigger: manual`)."""
        path = f"/_mock/deliveries/{urllib.parse.quote(delivery_id)}/redeliver"
        return dict(self.request("POST", path))

    # -- waiting and assertions ---------------------------------------------------------------

    def wait_for(
        self,
        count: int = 1,
        *,
        timeout: float = 15.0,
        event: Optional[str] = None,
        uid: Optional[str] = None,
        status: Optional[str] = None,
        state: Optional[str] = None,
    ) -> List[Delivery]:
        """Waits until at least `count` matching deliveries have ended (or, with `state`, are in
        that state); returns the matches. On timeout raises `AssertionFailed` with the journal."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [
                d
                for d in self.deliveries(event=event, uid=uid, status=status)
                if (d.state == state if state else d.terminal)
            ]
            if len(matches) >= count:
                return matches
            if time.monotonic() >= deadline:
                wanted = _describe(event=event, uid=uid, status=status, state=state or "terminal")
                self._fail(
                    f"waited {timeout:g}s for {count} deliveries matching {wanted}; "
                    f"found {len(matches)}"
                )
            time.sleep(0.05)

    def assert_delivered(
        self,
        *,
        event: Optional[str] = None,
        uid: Optional[str] = None,
        status: Optional[str] = None,
        count: Optional[int] = None,
    ) -> List[Delivery]:
        """Asserts that matching deliveries ended `delivered` (exactly `count` of them, if given;
        at least one otherwise) and that none of them ended otherwise."""
        matches = self.deliveries(event=event, uid=uid, status=status)
        wanted = _describe(event=event, uid=uid, status=status)
        failed = [d for d in matches if d.terminal and d.state != "delivered"]
        delivered = [d for d in matches if d.state == "delivered"]
        if failed:
            self._fail(f"{len(failed)} deliveries matching {wanted} did not end delivered")
        if count is None and not delivered:
            self._fail(f"no delivered delivery matches {wanted}")
        if count is not None and len(delivered) != count:
            self._fail(f"expected {count} delivered deliveries matching {wanted}, found {len(delivered)}")
        return delivered

    def assert_state(self, delivery_id: str, state: str) -> Delivery:
        """Asserts that one delivery is in `state` (e.g. `rejected`)."""
        for d in self.deliveries():
            if d.id == delivery_id:
                if d.state != state:
                    self._fail(f"delivery {delivery_id} is {d.state}, expected {state}")
                return d
        self._fail(f"no delivery {delivery_id} in the journal")
        raise AssertionError("unreachable")

    def assert_none(
        self, *, event: Optional[str] = None, uid: Optional[str] = None, status: Optional[str] = None
    ) -> None:
        """Asserts that no delivery matches."""
        matches = self.deliveries(event=event, uid=uid, status=status)
        if matches:
            wanted = _describe(event=event, uid=uid, status=status)
            self._fail(f"expected no delivery matching {wanted}, found {len(matches)}")

    def journal(self) -> str:
        """The whole journal as a table."""
        return journal_table(self.deliveries())

    def _fail(self, message: str) -> None:
        raise AssertionFailed(f"{message}\njournal:\n{self.journal()}")


def _describe(**filters: Optional[str]) -> str:
    parts = [f"{k}={v}" for k, v in filters.items() if v is not None]
    return "{" + ", ".join(parts) + "}" if parts else "{any}"
