// An InboxKit webhook consumer with Fastify: the JSON parser keeps the raw body for the
// signature. Run: PORT=3000 INBOXKIT_WEBHOOK_SECRET=whsec_... node fastify.mjs
// (INBOXKIT_SIGNATURE_SCHEME=api-key-sha256 with INBOXKIT_API_KEY for the `current` profile).
import crypto from "node:crypto";
import Fastify from "fastify";

const scheme = process.env.INBOXKIT_SIGNATURE_SCHEME ?? "hmac-body";
const secret = process.env.INBOXKIT_WEBHOOK_SECRET ?? "";
const apiKey = process.env.INBOXKIT_API_KEY ?? "";
const ENTITY_KEYS = ["domain", "mailbox", "consent_request", "client_id_request"];

function expectedSignature(rawBody) {
  const digest =
    scheme === "api-key-sha256"
      ? crypto.createHash("sha256").update(apiKey).digest("hex")
      : crypto.createHmac("sha256", secret).update(rawBody).digest("hex");
  return `sha256=${digest}`;
}

function signatureValid(rawBody, header) {
  if (typeof header !== "string") return false;
  const given = Buffer.from(header.trim().toLowerCase());
  const expected = Buffer.from(expectedSignature(rawBody));
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const seen = new Set();
const processed = [];
const app = Fastify({ bodyLimit: 1024 * 1024 });

// Take every body as a Buffer: the signature covers the exact bytes, JSON is parsed after.
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

app.post("/webhooks/inboxkit", async (request, reply) => {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (!signatureValid(raw, request.headers["x-inboxkit-signature"])) {
    return reply.code(401).send({ error: "invalid signature" });
  }
  let event;
  try {
    event = JSON.parse(raw.toString("utf8"));
  } catch {
    return reply.code(400).send({ error: "malformed JSON" });
  }
  const key = ENTITY_KEYS.find((k) => event?.data?.[k]);
  if (!key) return { success: true, ignored: true };
  const entity = event.data[key];
  const dedupeKey = [event.event, entity.uid, entity.status, entity.previous_status, event.timestamp].join("|");
  if (!seen.has(dedupeKey)) {
    seen.add(dedupeKey);
    processed.push({ event: event.event, uid: entity.uid, status: entity.status });
  }
  return { success: true };
});

app.get("/processed", async () => ({ processed: processed.length, events: processed }));

const port = Number(process.env.PORT ?? 3000);
await app.listen({ port, host: "127.0.0.1" });
console.log(`listening on http://127.0.0.1:${port}`);
