/**
 * A helper for `node:test`:
 *
 * ```js
 * import { useInboxKitMock } from "inboxkit-mock/node-test";
 * const mock = useInboxKitMock(() => ({ webhookUrl: `${app.url}/webhooks/inboxkit`, secret: "whsec_test" }));
 * test("domain webhooks", async () => {
 *   const uid = await mock.registerDomain("acme-mail.com");
 *   await mock.advance("20m");
 *   await mock.waitFor({ uid, status: "active" });
 * });
 * ```
 */

import { after, before } from "node:test";

import { type OptionsSource, registerMock } from "./hooks.js";
import type { MockServer } from "./server.js";

/** Starts a mock (paused clock, free port) in `before` and stops it in `after`. */
export function useInboxKitMock(options: OptionsSource = {}): MockServer {
  return registerMock({ before: (fn) => before(fn), after: (fn) => after(fn) }, options);
}

export type { OptionsSource } from "./hooks.js";
