/** Finding the platform binary, and running `inboxkit-mock serve` as a child process. */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

import { InboxKitMock } from "./client.js";

/** The platform packages, by `${process.platform}-${process.arch}`. */
export const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "@inboxkit-mock/linux-x64",
  "linux-arm64": "@inboxkit-mock/linux-arm64",
  "darwin-x64": "@inboxkit-mock/darwin-x64",
  "darwin-arm64": "@inboxkit-mock/darwin-arm64",
};

/**
 * The path of the `inboxkit-mock` binary: `$INBOXKIT_MOCK_BIN`, else the one in this platform's
 * package (installed by npm as an optional dependency, selected by `os` and `cpu`).
 */
export function binaryPath(): string {
  const explicit = process.env.INBOXKIT_MOCK_BIN;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`INBOXKIT_MOCK_BIN=${explicit} does not exist`);
    return explicit;
  }
  const platform = `${process.platform}-${process.arch}`;
  const name = PLATFORM_PACKAGES[platform];
  if (!name) {
    throw new Error(`inboxkit-mock has no prebuilt binary for ${platform}; build it (cargo install) and set INBOXKIT_MOCK_BIN`);
  }
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`${name}/bin/inboxkit-mock`);
  } catch {
    throw new Error(
      `the package ${name} is not installed: npm skips optional dependencies with --omit=optional ` +
        `or --no-optional; reinstall without it, or set INBOXKIT_MOCK_BIN`,
    );
  }
}

/** Options of `startMock`: each maps to a `serve` flag; anything else goes in `args`. */
export interface StartOptions {
  /** The subscriber URL (your app's webhook endpoint). */
  webhookUrl?: string;
  /** The webhook secret [default: random]. */
  secret?: string;
  /** The team API key the REST API expects [default: random]. */
  apiKey?: string;
  /** `seed` (default) or `current`. */
  profile?: "seed" | "current";
  /** Start with the clock paused [default: true]. */
  paused?: boolean;
  /** Seed of the world (the same seed and calls give the same ids and bodies). */
  seed?: number;
  /** Simulated start time, ISO 8601. */
  startTime?: string;
  /** The subscriber deadline, e.g. `"10s"`. */
  timeout?: string;
  /** More `serve` flags, e.g. `["--failure-rate", "0.1"]`. */
  args?: string[];
  /** Another binary [default: `binaryPath()`]. */
  binary?: string;
  /** How long to wait for readiness, in ms [default: 30000]. */
  readyTimeoutMs?: number;
}

/** A `serve` process of its own, plus the client for it. Call `stop()` when done. */
export class MockServer extends InboxKitMock {
  readonly process: ChildProcess;
  private readonly chunks: string[] = [];

  private constructor(child: ChildProcess, apiKey: string, secret: string) {
    super({ baseUrl: "http://127.0.0.1:0", apiKey, secret });
    this.process = child;
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => this.chunks.push(chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.chunks.push(chunk));
  }

  /** Starts `serve` on a free loopback port and waits until it is ready. */
  static async start(options: StartOptions = {}): Promise<MockServer> {
    const apiKey = options.apiKey ?? `ik_test_${randomBytes(8).toString("hex")}`;
    const secret = options.secret ?? `whsec_test_${randomBytes(8).toString("hex")}`;
    const args = ["serve", "--bind", "127.0.0.1", "--port", "0", "--api-key", apiKey, "--secret", secret];
    if (options.webhookUrl) args.push("--webhook-url", options.webhookUrl);
    if (options.profile) args.push("--profile", options.profile);
    if (options.paused ?? true) args.push("--paused");
    if (options.seed !== undefined) args.push("--seed", String(options.seed));
    if (options.startTime) args.push("--start-time", options.startTime);
    if (options.timeout) args.push("--timeout", options.timeout);
    args.push(...(options.args ?? []));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("INBOXKIT_MOCK_")));
    const child = spawn(options.binary ?? binaryPath(), args, { stdio: ["ignore", "pipe", "pipe"], env });
    const server = new MockServer(child, apiKey, secret);
    try {
      server.baseUrl = await server.listening(options.readyTimeoutMs ?? 30_000);
      const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
      while (!(await server.ready())) {
        if (Date.now() > deadline) throw new Error(`inboxkit-mock serve was not ready in time:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** What the process printed so far. */
  output(): string {
    return this.chunks.join("");
  }

  private listening(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`inboxkit-mock serve did not listen within ${timeoutMs} ms:\n${this.output()}`)), timeoutMs);
      const check = () => {
        const found = /listening on (http:\/\/\S+)/.exec(this.output());
        if (found) finish(undefined, found[1].replace(/\/+$/, ""));
      };
      const exited = (code: number | null) => finish(new Error(`inboxkit-mock serve exited with ${code}:\n${this.output()}`));
      const failed = (error: Error) => finish(error);
      const finish = (error?: Error, url?: string) => {
        clearTimeout(timer);
        this.process.stdout?.off("data", check);
        this.process.off("exit", exited);
        this.process.off("error", failed);
        if (error) reject(error);
        else resolve(url as string);
      };
      this.process.stdout?.on("data", check);
      this.process.once("exit", exited);
      this.process.once("error", failed);
      check();
    });
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`); its exit code. */
  async stop(graceMs = 10_000): Promise<number | null> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** Starts `serve` on a free loopback port with a paused clock; `stop()` it when done. */
export function startMock(options: StartOptions = {}): Promise<MockServer> {
  return MockServer.start(options);
}
