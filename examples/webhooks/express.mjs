// An InboxKit webhook consumer with Express: verify the signature over the raw body, dedupe,
// acknowledge fast. Run: PORT=3000 INBOXKIT_WEBHOOK_SECRET=whsec_... node express.mjs
// (INBOXKIT_SIGNATURE_SCHEME=api-key-sha256 with INBOXKIT_API_KEY for the `current` profile).
import crypto from "node:crypto";
import express from "express";

const scheme = process.env.INBOXKIT_SIGNATURE_SCHEME ?? "hmac-body";
const secret = process.env.INBOXKIT_WEBHOOK_SECRET ?? "";
const apiKey = process.env.INBOXKIT_API_KEY ?? "";
const ENTITY_KEYS = ["domain", "mailbox", "consent_request", "client_id_request"];

// The expected X-InboxKit-Signature for these exact bytes.
function expectedSignature(rawBody) {
  const digest =
    scheme === "api-key-sha256"
      ? crypto.createHash("sha256").update(apiKey).digest("hex") // static: SHA-256 of the API key
      : crypto.createHmac("sha256", secret).update(rawBody).digest("hex"); // HMAC of the raw body
  return `sha256=${digest}`;
}

// Constant-time comparison; lengths are compared first because timingSafeEqual needs equal ones.
function signatureValid(rawBody, header) {
  if (typeof header !== "string") return false;
  const given = Buffer.from(header.trim().toLowerCase());
  const expected = Buffer.from(expectedSignature(rawBody));
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const seen = new Set(); // use your database (a unique index) in production
const processed = [];

const app = express();
// express.raw keeps the exact bytes: express.json() would re-serialize and break the HMAC.
app.post("/webhooks/inboxkit", express.raw({ type: "*/*", limit: "1mb" }), (req, res) => {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (!signatureValid(raw, req.get("X-InboxKit-Signature"))) {
    return res.status(401).json({ error: "invalid signature" });
  }
  let event;
  try {
    event = JSON.parse(raw.toString("utf8"));
  } catch {
    return res.status(400).json({ error: "malformed JSON" });
  }
  const key = ENTITY_KEYS.find((k) => event?.data?.[k]);
  if (!key) {
    return res.status(200).json({ success: true, ignored: true }); // an event type added later
  }
  const entity = event.data[key];
  // One change = uid + status + previous_status + the body's timestamp (the same on retries).
  const dedupeKey = [event.event, entity.uid, entity.status, entity.previous_status, event.timestamp].join("|");
  if (!seen.has(dedupeKey)) {
    seen.add(dedupeKey);
    processed.push({ event: event.event, uid: entity.uid, status: entity.status });
  }
  return res.status(200).json({ success: true });
});

// For tests and `inboxkit-mock check --processed-url`: how many changes were processed.
app.get("/processed", (_req, res) => res.json({ processed: processed.length, events: processed }));

export default app;

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000);
  app.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}`));
}
