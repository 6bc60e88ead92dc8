"""An InboxKit webhook consumer with FastAPI: `await request.body()` gives the raw bytes.

Run: INBOXKIT_WEBHOOK_SECRET=whsec_... uvicorn fastapi_app:app --port 3000
(INBOXKIT_SIGNATURE_SCHEME=api-key-sha256 with INBOXKIT_API_KEY for the `current` profile).
"""

import hashlib
import hmac
import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ENTITY_KEYS = ("domain", "mailbox", "consent_request", "client_id_request")


def expected_signature(raw_body: bytes) -> str:
    if os.environ.get("INBOXKIT_SIGNATURE_SCHEME", "hmac-body") == "api-key-sha256":
        digest = hashlib.sha256(os.environ["INBOXKIT_API_KEY"].encode()).hexdigest()
    else:
        key = os.environ["INBOXKIT_WEBHOOK_SECRET"].encode()
        digest = hmac.new(key, raw_body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def signature_valid(raw_body: bytes, header) -> bool:
    return header is not None and hmac.compare_digest(
        header.strip().lower().encode(), expected_signature(raw_body).encode()
    )


app = FastAPI()
seen = set()
processed = []


@app.post("/webhooks/inboxkit")
async def inboxkit_webhook(request: Request):
    # Not a pydantic model parameter: the signature needs the bytes before any parsing.
    raw = await request.body()
    if not signature_valid(raw, request.headers.get("x-inboxkit-signature")):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    try:
        event = json.loads(raw)
        data = event["data"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "malformed body"}, status_code=400)
    key = next((k for k in ENTITY_KEYS if isinstance(data, dict) and data.get(k)), None)
    if key is None:
        return {"success": True, "ignored": True}
    entity = data[key]
    dedupe_key = (event.get("event"), entity.get("uid"), entity.get("status"),
                  entity.get("previous_status"), event.get("timestamp"))
    if dedupe_key not in seen:
        seen.add(dedupe_key)
        processed.append({"event": event.get("event"), "uid": entity.get("uid"),
                          "status": entity.get("status")})
    return {"success": True}


@app.get("/processed")
async def processed_count():
    return {"processed": len(processed), "events": processed}
