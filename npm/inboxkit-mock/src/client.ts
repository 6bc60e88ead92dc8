/**
 * A typed client for a running mock: the InboxKit REST API (`/v1/api`) and the control API
 * (`/_mock`). Uses the global `fetch` (Node 18+); every request is JSON with
 * `Content-Type: application/json`.
 */

/** Delivery states that end a delivery. */
export const TERMINAL_STATES = ["delivered", "rejected", "exhausted"] as const;

/** Where a delivery stands. */
export type DeliveryState = "pending" | "retrying" | (typeof TERMINAL_STATES)[number];

/** A duration: `"10m"`, `"1h 30m"`, or milliseconds. */
export type Duration = string | number;

/** One journaled event (a summary; `delivery(id)` has every attempt). */
export interface Delivery {
  id: string;
  event: string;
  entity_uid: string | null;
  status: string | null;
  previous_status: string | null;
  target: string;
  created_at: string;
  state: DeliveryState;
  attempts: number;
  last_outcome: string | null;
  last_latency_ms: number | null;
}

/** One attempt of a delivery, as journaled. */
export interface Attempt {
  number: number;
  trigger: string;
  started_at: string;
  url: string;
  request_headers: [string, string][];
  response: { status: number; headers?: [string, string][]; body?: string } | null;
  latency_ms: number;
  outcome: string;
  error: string | null;
  next_attempt_at: string | null;
}

/** A delivery with its body and every attempt. */
export interface DeliveryRecord {
  id: string;
  event: string;
  entity_uid: string | null;
  status: string | null;
  previous_status: string | null;
  target: string;
  created_at: string;
  state: DeliveryState;
  body: string;
  attempts: Attempt[];
}

/** The simulated clock; `fired` is set by `advance`. Other fields the mock adds are kept. */
export interface ClockState {
  now: string;
  paused: boolean;
  fired?: number;
  [field: string]: unknown;
}

/** The answer to `trigger`. */
export interface Triggered {
  delivery_id: string;
  event: string;
  body: Record<string, unknown>;
}

/** A bought mailbox as the REST API returns it. */
export interface Mailbox {
  uid: string;
  email: string;
  status: string;
  [field: string]: unknown;
}

/** Journal filters; `status` is the entity status the event carries. */
export interface DeliveryFilter {
  event?: string;
  uid?: string;
  status?: string;
  state?: DeliveryState;
  outcome?: string;
}

/** Options of `new InboxKitMock(...)`. */
export interface ClientOptions {
  /** The mock's address, e.g. `http://127.0.0.1:8025`. */
  baseUrl: string;
  /** The team API key its REST API expects. */
  apiKey: string;
  /** The webhook secret it signs with (for your app's verifier). */
  secret?: string;
  /** Sent to `/_mock` when the mock was started with `--admin-token`. */
  adminToken?: string;
}

/** The mock answered with an error (RFC 7807 problem on `/_mock`, `{error, message}` on REST). */
export class MockError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: unknown;
  constructor(method: string, url: string, status: number, body: unknown) {
    const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const detail = record.detail ?? record.message ?? body;
    super(`${method} ${url}: HTTP ${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.name = "MockError";
    this.status = status;
    this.code = typeof record.code === "string" ? record.code : undefined;
    this.body = body;
  }
}

/** A journal assertion did not hold; the message ends with the journal as a table. */
export class JournalAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalAssertionError";
  }
}

const KIND_BY_PREFIX: [string, string][] = [
  ["domain-", "domains"],
  ["mailbox-", "mailboxes"],
  ["consent-", "consent_requests"],
  ["clientid-", "client_id_requests"],
];

/** The control API's kind (`domains`, `mailboxes`, ...) of an entity uid, by its prefix. */
export function kindOf(uid: string): string {
  const found = KIND_BY_PREFIX.find(([prefix]) => uid.startsWith(prefix));
  if (!found) {
    throw new Error(`cannot tell the kind of ${JSON.stringify(uid)} from its prefix (domain-, mailbox-, consent-, clientid-)`);
  }
  return found[1];
}

function durationText(value: Duration): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value) || value < 0) throw new Error(`not a duration: ${value}`);
  return `${Math.round(value)}ms`;
}

function isTerminal(state: string): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

function describe(filter: object): string {
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? `{${parts.join(", ")}}` : "{any}";
}

/** The deliveries as an aligned text table, oldest first, for failure messages. */
export function journalTable(deliveries: Delivery[]): string {
  if (deliveries.length === 0) return "(the journal is empty)";
  const header = ["created_at", "event", "uid", "status", "state", "attempts", "last_outcome"];
  const rows = [
    header,
    ...[...deliveries]
      .sort((a, b) => a.created_at.localeCompare(b.created_at))
      .map((d) => [d.created_at, d.event, d.entity_uid ?? "-", d.status ?? "-", d.state, String(d.attempts), d.last_outcome ?? "-"]),
  ];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client for one running mock. */
export class InboxKitMock {
  baseUrl: string;
  readonly apiKey: string;
  readonly secret: string | undefined;
  readonly adminToken: string | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.secret = options.secret;
    this.adminToken = options.adminToken;
  }

  /**
   * A client for the mock named by the environment, as the GitHub Action and the CI recipes set
   * it: `INBOXKIT_MOCK_URL` (default `http://127.0.0.1:8025`), `INBOXKIT_MOCK_API_KEY`,
   * `INBOXKIT_MOCK_SECRET`, `INBOXKIT_MOCK_ADMIN_TOKEN`.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env): InboxKitMock {
    return new InboxKitMock({
      baseUrl: env.INBOXKIT_MOCK_URL ?? "http://127.0.0.1:8025",
      apiKey: env.INBOXKIT_MOCK_API_KEY ?? "",
      secret: env.INBOXKIT_MOCK_SECRET,
      adminToken: env.INBOXKIT_MOCK_ADMIN_TOKEN,
    });
  }

  /** Sends one JSON request; returns the decoded answer, throws `MockError` on 4xx/5xx. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { query?: Record<string, string | number | undefined>; rest?: boolean } = {},
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { Accept: "application/json", "Content-Type": "application/json" };
    const token = options.rest ? this.apiKey : this.adminToken;
    if (token) headers.Authorization = `Bearer ${token}`;
    const payload = body === undefined ? (method === "POST" || method === "PUT" ? "{}" : undefined) : JSON.stringify(body);
    const answer = await fetch(url, { method, headers, body: payload });
    const text = await answer.text();
    let decoded: unknown = text;
    try {
      decoded = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error
    }
    if (!answer.ok) throw new MockError(method, url.toString(), answer.status, decoded);
    return decoded as T;
  }

  // -- REST API (what your app calls) ---------------------------------------------------------

  /** `POST /v1/api/domains/register`; the new domains' uids, in order. */
  async registerDomains(names: string[], options: { years?: number } = {}): Promise<string[]> {
    const body = { domains: names.map((name) => ({ name, registration_years: options.years ?? 1 })) };
    const answer = await this.request<{ domain_uids: string[] }>("POST", "/v1/api/domains/register", body, { rest: true });
    return answer.domain_uids;
  }

  /** Registers one domain; its uid (`domain-...`). */
  async registerDomain(name: string, options: { years?: number } = {}): Promise<string> {
    return (await this.registerDomains([name], options))[0];
  }

  /** `POST /v1/api/mailboxes/buy` for one mailbox. */
  async buyMailbox(
    domainName: string,
    username: string,
    options: { firstName?: string; lastName?: string; platform?: string } = {},
  ): Promise<Mailbox> {
    const order = {
      first_name: options.firstName ?? "Ada",
      last_name: options.lastName ?? "Lovelace",
      username,
      platform: options.platform ?? "GOOGLE",
      domain_name: domainName,
    };
    const answer = await this.request<{ mailboxes: Mailbox[] }>("POST", "/v1/api/mailboxes/buy", { mailboxes: [order] }, { rest: true });
    return answer.mailboxes[0];
  }

  /** `POST /v1/api/mailboxes/cancel`. */
  async cancelMailboxes(uids: string[]): Promise<{ uid: string; status: string }[]> {
    const answer = await this.request<{ mailboxes: { uid: string; status: string }[] }>("POST", "/v1/api/mailboxes/cancel", { uids }, { rest: true });
    return answer.mailboxes;
  }

  /** `POST /v1/api/workspaces/webhook`: a workspace's subscriber URL (and mock-only secret). */
  async setWebhook(workspaceUid: string, webhookUrl: string, secret?: string): Promise<void> {
    const body: Record<string, string> = { uid: workspaceUid, webhook_url: webhookUrl };
    if (secret !== undefined) body.secret = secret;
    await this.request("POST", "/v1/api/workspaces/webhook", body, { rest: true });
  }

  // -- control API (what your tests call) ---------------------------------------------------

  /** Whether `GET /_mock/ready` answers 200. */
  async ready(): Promise<boolean> {
    try {
      await this.request("GET", "/_mock/ready");
      return true;
    } catch {
      return false;
    }
  }

  /** `GET /_mock/clock`. */
  clock(): Promise<ClockState> {
    return this.request("GET", "/_mock/clock");
  }

  /** Pauses the simulated clock. */
  pause(): Promise<ClockState> {
    return this.request("POST", "/_mock/clock/pause");
  }

  /** Lets the simulated clock run again. */
  resume(): Promise<ClockState> {
    return this.request("POST", "/_mock/clock/resume");
  }

  /** Moves the clock; every transition and retry that comes due fires, in order, first. */
  advance(by: Duration): Promise<ClockState> {
    return this.request("POST", "/_mock/clock/advance", { by: durationText(by) });
  }

  /** `POST /_mock/events`: one event now (about `uid`, or a typical sample), with overrides. */
  trigger(event: string, options: { uid?: string; set?: Record<string, unknown>; workspaceId?: string } = {}): Promise<Triggered> {
    const body: Record<string, unknown> = { event };
    if (options.uid !== undefined) body.uid = options.uid;
    if (options.set !== undefined) body.set = options.set;
    if (options.workspaceId !== undefined) body.workspace_id = options.workspaceId;
    return this.request("POST", "/_mock/events", body);
  }

  /** Forces an entity to status `to` now; the id of the delivery it caused (409 if illegal). */
  async transition(uid: string, to: string): Promise<string | null> {
    const answer = await this.request<{ delivery_id?: string | null }>(
      "POST",
      `/_mock/${kindOf(uid)}/${encodeURIComponent(uid)}/transition`,
      { to },
    );
    return answer.delivery_id ?? null;
  }

  /** `GET /_mock/{kind}/{uid}`: the entity, its workspace, its allowed transitions. */
  entity(uid: string): Promise<Record<string, unknown>> {
    return this.request("GET", `/_mock/${kindOf(uid)}/${encodeURIComponent(uid)}`);
  }

  /** `GET /_mock/world`. */
  world(): Promise<Record<string, unknown>> {
    return this.request("GET", "/_mock/world");
  }

  /** `GET /_mock/subscriber` (secrets redacted). */
  subscriber(): Promise<Record<string, unknown>> {
    return this.request("GET", "/_mock/subscriber");
  }

  /** `PUT /_mock/subscriber`: url, profile, signature_scheme, secret, api_key, timeout, ... */
  setSubscriber(settings: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.request("PUT", "/_mock/subscriber", settings);
  }

  /** `POST /_mock/reset`: the world from its seed again, the journal emptied. */
  async reset(): Promise<void> {
    await this.request("POST", "/_mock/reset");
  }

  /** The journal, oldest first, filtered. */
  async deliveries(filter: DeliveryFilter = {}): Promise<Delivery[]> {
    const found: Delivery[] = [];
    for (let offset = 0; ; ) {
      const page = await this.request<{ total: number; deliveries: Delivery[] }>("GET", "/_mock/deliveries", undefined, {
        query: { event: filter.event, uid: filter.uid, state: filter.state, outcome: filter.outcome, offset, limit: 1000 },
      });
      const items = page.deliveries ?? [];
      found.push(...items);
      offset += items.length;
      if (items.length === 0 || offset >= page.total) break;
    }
    return found
      .filter((d) => filter.status === undefined || d.status === filter.status)
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** `GET /_mock/deliveries/{id}`: the body and every attempt's request and response. */
  delivery(id: string): Promise<DeliveryRecord> {
    return this.request("GET", `/_mock/deliveries/${encodeURIComponent(id)}`);
  }

  /** One manual attempt of a delivery (journaled as `trigger: manual`). */
  redeliver(id: string): Promise<Record<string, unknown>> {
    return this.request("POST", `/_mock/deliveries/${encodeURIComponent(id)}/redeliver`);
  }

  // -- waiting and assertions ---------------------------------------------------------------

  /**
   * Waits until at least `count` (default 1) matching deliveries have ended (or, with `state`,
   * are in that state); the matches. On timeout (default 15 s) throws with the journal.
   */
  async waitFor(filter: DeliveryFilter & { count?: number; timeoutMs?: number } = {}): Promise<Delivery[]> {
    const { count = 1, timeoutMs = 15_000, state, ...rest } = filter;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matches = (await this.deliveries(rest)).filter((d) => (state ? d.state === state : isTerminal(d.state)));
      if (matches.length >= count) return matches;
      if (Date.now() >= deadline) {
        await this.fail(`waited ${timeoutMs} ms for ${count} deliveries matching ${describe({ ...rest, state: state ?? "terminal" })}; found ${matches.length}`);
      }
      await sleep(50);
    }
  }

  /** Matching deliveries ended `delivered` (exactly `count`, or at least one) and none otherwise. */
  async assertDelivered(filter: Omit<DeliveryFilter, "state"> & { count?: number } = {}): Promise<Delivery[]> {
    const { count, ...rest } = filter;
    const matches = await this.deliveries(rest);
    const wanted = describe(rest);
    const failed = matches.filter((d) => isTerminal(d.state) && d.state !== "delivered");
    const delivered = matches.filter((d) => d.state === "delivered");
    if (failed.length) await this.fail(`${failed.length} deliveries matching ${wanted} did not end delivered`);
    if (count === undefined && delivered.length === 0) await this.fail(`no delivered delivery matches ${wanted}`);
    if (count !== undefined && delivered.length !== count) {
      await this.fail(`expected ${count} delivered deliveries matching ${wanted}, found ${delivered.length}`);
    }
    return delivered;
  }

  /** One delivery is in `state` (e.g. `rejected`). */
  async assertState(id: string, state: DeliveryState): Promise<Delivery> {
    const found = (await this.deliveries()).find((d) => d.id === id);
    if (!found) return this.fail(`no delivery ${id} in the journal`);
    if (found.state !== state) await this.fail(`delivery ${id} is ${found.state}, expected ${state}`);
    return found;
  }

  /** No delivery matches. */
  async assertNone(filter: DeliveryFilter = {}): Promise<void> {
    const matches = await this.deliveries(filter);
    if (matches.length) await this.fail(`expected no delivery matching ${describe(filter)}, found ${matches.length}`);
  }

  /** The whole journal as a table. */
  async journal(): Promise<string> {
    return journalTable(await this.deliveries());
  }

  private async fail(message: string): Promise<never> {
    throw new JournalAssertionError(`${message}\njournal:\n${await this.journal()}`);
  }
}
