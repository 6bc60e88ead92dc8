/**
 * A helper for Vitest (`vitest` must be installed; it is an optional peer dependency):
 *
 * ```ts
 * import { useInboxKitMock } from "inboxkit-mock/vitest";
 * const mock = useInboxKitMock({ webhookUrl: "http://127.0.0.1:3000/webhooks/inboxkit", secret: "whsec_test" });
 * it("sends domain webhooks", async () => {
 *   const uid = await mock.registerDomain("acme-mail.com");
 *   await mock.advance("20m");
 *   await mock.assertDelivered({ uid, status: "active" });
 * });
 * ```
 */

import { afterAll, beforeAll } from "vitest";

import { type OptionsSource, registerMock } from "./hooks.js";
import type { MockServer } from "./server.js";

/** Starts a mock (paused clock, free port) in `beforeAll` and stops it in `afterAll`. */
export function useInboxKitMock(options: OptionsSource = {}): MockServer {
  return registerMock({ before: (fn) => beforeAll(fn, 60_000), after: (fn) => afterAll(fn, 30_000) }, options);
}

export type { OptionsSource } from "./hooks.js";
