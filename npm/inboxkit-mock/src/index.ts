/**
 * inboxkit-mock for Node.js: the mock InboxKit as a child process (`startMock`), a typed client
 * for its REST and control APIs (`InboxKitMock`), and helpers for `node:test`
 * (`inboxkit-mock/node-test`) and Vitest (`inboxkit-mock/vitest`).
 */

export * from "./client.js";
export { binaryPath, MockServer, PLATFORM_PACKAGES, startMock, type StartOptions } from "./server.js";
