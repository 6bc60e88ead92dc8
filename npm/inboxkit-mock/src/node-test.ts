/**
 * A helper for `node:test`:
 *
 * ```js
 * import { useInboxKitMock } from "inboxkit-mock/node-test";
 * const app = await startMyApp();               // top-level await: the app listens first
 * const mock = useInboxKitMock({ webhookUrl: `${app.url}/webhooks/inboxkit`, secret: "whsec_test" });
 * test("domain webhooks", async () => {
 *   const uid = await mock.registerDomain("acme-mail.com");
 *   await mock.advance("20m");
 *   await mock.waitFor({ uid, status: "active" });
 * });
 * ```
 *
 * Options may also be an (async) function, called in the `before` hook. Node 20 does not wait
 * for one top-level `before` hook before starting the next, so a function that needs your app's
 * URL should await the app's own readiness promise rather than rely on an earlier hook.
 */

import { after, before } from "node:test";

import { type OptionsSource, registerMock } from "./hooks.js";
import type { MockServer } from "./server.js";

/** Starts a mock (paused clock, free port) in `before` and stops it in `after`. */
export function useInboxKitMock(options: OptionsSource = {}): MockServer {
  return registerMock({ before: (fn) => before(fn), after: (fn) => after(fn) }, options);
}

export type { OptionsSource } from "./hooks.js";
