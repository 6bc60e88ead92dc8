"""An InboxKit webhook consumer with Flask: verify over the raw bytes, dedupe, acknowledge fast.

Run: INBOXKIT_WEBHOOK_SECRET=whsec_... flask --app flask_app run --port 3000
(INBOXKIT_SIGNATURE_SCHEME=api-key-sha256 with INBOXKIT_API_KEY for the `current` profile).
"""

import hashlib
import hmac
import json
import os

from flask import Flask, jsonify, request

ENTITY_KEYS = ("domain", "mailbox", "consent_request", "client_id_request")


def expected_signature(raw_body: bytes) -> str:
    """The X-InboxKit-Signature these exact bytes must carry."""
    if os.environ.get("INBOXKIT_SIGNATURE_SCHEME", "hmac-body") == "api-key-sha256":
        digest = hashlib.sha256(os.environ["INBOXKIT_API_KEY"].encode()).hexdigest()
    else:
        key = os.environ["INBOXKIT_WEBHOOK_SECRET"].encode()
        digest = hmac.new(key, raw_body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def signature_valid(raw_body: bytes, header) -> bool:
    # hmac.compare_digest: constant time, whatever the inputs.
    return header is not None and hmac.compare_digest(
        header.strip().lower().encode(), expected_signature(raw_body).encode()
    )


app = Flask(__name__)
seen = set()  # use your database (a unique index) in production
processed = []


@app.post("/webhooks/inboxkit")
def inboxkit_webhook():
    raw = request.get_data(cache=False)  # the exact bytes; request.json would re-serialize
    if not signature_valid(raw, request.headers.get("X-InboxKit-Signature")):
        return jsonify(error="invalid signature"), 401
    try:
        event = json.loads(raw)
        data = event["data"]
    except (ValueError, KeyError, TypeError):
        return jsonify(error="malformed body"), 400
    key = next((k for k in ENTITY_KEYS if isinstance(data, dict) and data.get(k)), None)
    if key is None:
        return jsonify(success=True, ignored=True)  # an event type added later
    entity = data[key]
    # One change = uid + status + previous_status + the body's timestamp (the same on retries).
    dedupe_key = (event.get("event"), entity.get("uid"), entity.get("status"),
                  entity.get("previous_status"), event.get("timestamp"))
    if dedupe_key not in seen:
        seen.add(dedupe_key)
        processed.append({"event": event.get("event"), "uid": entity.get("uid"),
                          "status": entity.get("status")})
    return jsonify(success=True)


@app.get("/processed")
def processed_count():
    """For tests and `inboxkit-mock check --processed-url`."""
    return jsonify(processed=len(processed), events=processed)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "3000")), threaded=True)
