"""A sample suite: drive the mock through the client, assert on the journal and on the app."""

import pytest

from inboxkit_mock import AssertionFailed, MockError


def test_a_domain_walks_its_lifecycle_into_the_app(inboxkit_mock, processed):
    uid = inboxkit_mock.register_domain("acme-mail.com")
    inboxkit_mock.advance("20m")  # paused clock: nameservers set at 2 min, DNS done at 17 min
    inboxkit_mock.wait_for(2, uid=uid)  # both deliveries ended
    journal = inboxkit_mock.assert_delivered(uid=uid, count=2)
    assert [d.status for d in journal] == ["waiting_for_dns_propagation", "active"]
    # Same changes, each once; the order of arrival may differ from the journal's (deliveries run
    # concurrently), so a consumer orders by the body's timestamp, not by arrival.
    assert sorted(processed(uid)) == sorted(d.status for d in journal)


def test_a_triggered_event_with_an_override_is_delivered(inboxkit_mock, processed):
    sent = inboxkit_mock.trigger("mailbox.status_changed", set={"data.mailbox.status": "suspended"})
    assert sent.body["data"]["mailbox"]["status"] == "suspended"
    uid = sent.body["data"]["mailbox"]["uid"]
    inboxkit_mock.wait_for(uid=uid)
    inboxkit_mock.assert_delivered(event="mailbox.status_changed", status="suspended", count=1)
    assert processed(uid) == ["suspended"]


def test_a_forced_transition_reaches_the_app_and_an_illegal_one_is_refused(inboxkit_mock, processed):
    uid = inboxkit_mock.register_domain("forced.example")
    inboxkit_mock.advance("20m")
    inboxkit_mock.wait_for(uid=uid, status="active")
    inboxkit_mock.transition(uid, "inactive")
    inboxkit_mock.wait_for(uid=uid, status="inactive")
    assert "inactive" in processed(uid)
    with pytest.raises(MockError) as refused:
        inboxkit_mock.transition(uid, "cart")
    assert refused.value.status == 409


def test_a_redelivered_event_is_not_processed_twice(inboxkit_mock, processed):
    sent = inboxkit_mock.trigger("domain.status_changed")
    uid = sent.body["data"]["domain"]["uid"]
    inboxkit_mock.wait_for(uid=uid)
    inboxkit_mock.redeliver(sent.delivery_id)
    record = inboxkit_mock.delivery(sent.delivery_id)
    assert [a["response"]["status"] for a in record["attempts"]] == [200, 200]
    assert len(processed(uid)) == 1


def test_a_wrong_secret_is_rejected_once_and_not_retried(inboxkit_mock, processed):
    inboxkit_mock.set_subscriber(secret="whsec_not_the_apps")
    sent = inboxkit_mock.trigger("domain.status_changed")
    uid = sent.body["data"]["domain"]["uid"]
    (rejected,) = inboxkit_mock.wait_for(uid=uid)
    assert (rejected.state, rejected.attempts, rejected.last_outcome) == ("rejected", 1, "http_4xx")
    assert processed(uid) == []


def test_a_failed_assertion_prints_the_journal(inboxkit_mock):
    inboxkit_mock.trigger("domain.status_changed")
    inboxkit_mock.wait_for()
    with pytest.raises(AssertionFailed) as failed:
        inboxkit_mock.assert_delivered(uid="domain-doesnotexist")
    message = str(failed.value)
    assert "journal:" in message and "domain.status_changed" in message and "delivered" in message
