"""The yardstick: a bare ASGI app answering the same payloads Printwork answers, from memory.

Started by api_throughput.py with the same server settings as Printwork; it does no auth,
no validation and no database work, so the ratio of the two rates is Printwork's own cost.
"""

from __future__ import annotations

import os
from pathlib import Path

PAYLOADS = Path(os.environ["BARE_PAYLOAD_DIR"])
CREATE = (PAYLOADS / "create.json").read_bytes()
GET = (PAYLOADS / "get.json").read_bytes()
LIST = (PAYLOADS / "list.json").read_bytes()
QUOTE = (PAYLOADS / "quote.json").read_bytes()
# Only api_throughput.py measures the Pwinty v3.0 face; served.py leaves these out.
V3_CREATE = (PAYLOADS / "v3-create.json").read_bytes() if (PAYLOADS / "v3-create.json").exists() else CREATE
V3_GET = (PAYLOADS / "v3-get.json").read_bytes() if (PAYLOADS / "v3-get.json").exists() else GET


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    v3 = scope["path"].startswith("/v3.0/")
    if scope["method"] == "POST":
        while True:  # read the whole body, as a real endpoint must
            message = await receive()
            if not message.get("more_body"):
                break
        body = QUOTE if scope["path"].rstrip("/").endswith("/quotes") else V3_CREATE if v3 else CREATE
    elif v3:
        body = V3_GET
    elif scope["path"].rstrip("/").endswith("/orders"):
        body = LIST
    else:
        body = GET
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
