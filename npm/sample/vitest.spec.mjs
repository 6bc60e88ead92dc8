// The same mock through the Vitest helper: the Express snippet as the app, journal assertions.
import { afterAll, expect, it } from "vitest";

import { useInboxKitMock } from "inboxkit-mock/vitest";

process.env.INBOXKIT_WEBHOOK_SECRET = "whsec_vitest_secret";
const { default: app } = await import("./express.mjs");
const server = await new Promise((resolve) => {
  const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const mock = useInboxKitMock({
  webhookUrl: `http://127.0.0.1:${server.address().port}/webhooks/inboxkit`,
  secret: "whsec_vitest_secret",
});

it("delivers a mailbox's lifecycle to the app", async () => {
  const domain = await mock.registerDomain("vitest.example");
  const mailbox = await mock.buyMailbox("vitest.example", "ada");
  await mock.advance("30m");
  await mock.waitFor({ uid: domain, status: "active" });
  await mock.waitFor({ uid: mailbox.uid, status: "active" });
  const journal = await mock.assertDelivered({ uid: mailbox.uid });
  expect(journal.map((d) => d.status)).toContain("active");
});
