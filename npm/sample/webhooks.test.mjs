// A sample suite for node:test: the Express snippet (examples/webhooks/express.mjs) is the app,
// the mock comes from inboxkit-mock/node-test, assertions are on the journal and on the app.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { JournalAssertionError, MockError } from "inboxkit-mock";
import { useInboxKitMock } from "inboxkit-mock/node-test";

const SECRET = "whsec_sample_secret";
process.env.INBOXKIT_WEBHOOK_SECRET = SECRET;
const { default: app } = await import("./express.mjs");

// The app listens before the mock starts (top-level await), on a free port.
const server = await new Promise((resolve) => {
  const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
});
const appUrl = `http://127.0.0.1:${server.address().port}`;
after(() => new Promise((resolve) => server.close(resolve)));

const mock = useInboxKitMock({ webhookUrl: `${appUrl}/webhooks/inboxkit`, secret: SECRET });

async function processed(uid) {
  const answer = await (await fetch(`${appUrl}/processed`)).json();
  return answer.events.filter((e) => e.uid === uid).map((e) => e.status);
}

test("a domain walks its lifecycle into the app", async () => {
  const uid = await mock.registerDomain("acme-mail.com");
  await mock.advance("20m"); // paused clock: nameservers set at 2 min, DNS done at 17 min
  await mock.waitFor({ uid, count: 2 }); // both deliveries ended
  const journal = await mock.assertDelivered({ uid, count: 2 });
  assert.deepEqual(journal.map((d) => d.status), ["waiting_for_dns_propagation", "active"]);
  // Same changes, each once; arrival order may differ from the journal's (concurrent deliveries).
  assert.deepEqual((await processed(uid)).sort(), journal.map((d) => d.status).sort());
});

test("a triggered event with an override is delivered", async () => {
  const sent = await mock.trigger("mailbox.status_changed", { set: { "data.mailbox.status": "suspended" } });
  const uid = sent.body.data.mailbox.uid;
  await mock.waitFor({ uid });
  await mock.assertDelivered({ uid, status: "suspended", count: 1 });
  assert.deepEqual(await processed(uid), ["suspended"]);
});

test("a forced transition reaches the app; an illegal one is refused", async () => {
  const uid = await mock.registerDomain("forced.example");
  await mock.advance("20m");
  await mock.waitFor({ uid, status: "active" });
  await mock.transition(uid, "inactive");
  await mock.waitFor({ uid, status: "inactive" });
  assert.ok((await processed(uid)).includes("inactive"));
  await assert.rejects(mock.transition(uid, "cart"), (error) => error instanceof MockError && error.status === 409);
});

test("a redelivered event is not processed twice", async () => {
  const sent = await mock.trigger("domain.status_changed");
  const uid = sent.body.data.domain.uid;
  await mock.waitFor({ uid });
  await mock.redeliver(sent.delivery_id);
  const record = await mock.delivery(sent.delivery_id);
  assert.deepEqual(record.attempts.map((a) => a.response?.status), [200, 200]);
  assert.equal((await processed(uid)).length, 1);
});

test("a wrong secret is rejected once and not retried", async () => {
  await mock.setSubscriber({ secret: "whsec_not_the_apps" });
  try {
    const sent = await mock.trigger("domain.status_changed");
    const uid = sent.body.data.domain.uid;
    const [rejected] = await mock.waitFor({ uid });
    assert.deepEqual([rejected.state, rejected.attempts, rejected.last_outcome], ["rejected", 1, "http_4xx"]);
    assert.deepEqual(await processed(uid), []);
  } finally {
    await mock.setSubscriber({ secret: SECRET });
  }
});

test("a failed assertion prints the journal", async () => {
  await assert.rejects(mock.assertDelivered({ uid: "domain-doesnotexist" }), (error) => {
    assert.ok(error instanceof JournalAssertionError);
    assert.match(error.message, /journal:\n.*created_at.*\n.*domain\.status_changed/s);
    return true;
  });
});
