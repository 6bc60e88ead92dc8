/** The part the `node:test` and Vitest helpers share: a mock started by a before-all hook. */

import { MockServer, type StartOptions } from "./server.js";

/** Options, or a function giving them (called in the before-all hook, e.g. once your app listens). */
export type OptionsSource = StartOptions | (() => StartOptions | Promise<StartOptions>);

/** Hooks of a test runner. */
export interface Hooks {
  before(fn: () => Promise<void>): void;
  after(fn: () => Promise<void>): void;
}

/**
 * Registers hooks that start the mock before the suite and stop it after, and returns the mock:
 * a stand-in that forwards to the running server (using it outside the suite's tests throws).
 */
export function registerMock(hooks: Hooks, source: OptionsSource = {}): MockServer {
  let server: MockServer | undefined;
  hooks.before(async () => {
    const options = typeof source === "function" ? await source() : source;
    server = await MockServer.start(options);
  });
  hooks.after(async () => {
    await server?.stop();
    server = undefined;
  });
  return new Proxy({} as MockServer, {
    get(_target, property) {
      if (!server) throw new Error("the inboxkit mock runs only inside the suite (between its before and after hooks)");
      const value = Reflect.get(server, property, server);
      return typeof value === "function" ? value.bind(server) : value;
    },
  });
}
