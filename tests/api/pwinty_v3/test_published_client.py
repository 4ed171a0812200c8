"""The published Pwinty v3.0 client (npm `@mathieudutour/pwinty` 0.1.0), unmodified, against a real server.

`make install` installs it under tests/clients/pwinty_v3 (npm ci); the test drives it with node
through a whole order and checks what the client hands its caller.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from printwork.core.merchants.service import owner_for_key
from tests.servers import running_servers

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "pwinty_v3"


@pytest.fixture
def client_ready():
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the published npm client cannot run here")
    if not (CLIENT / "node_modules" / "@mathieudutour" / "pwinty").is_dir():
        pytest.skip(f"the npm client is not installed: run `make install` (npm ci --prefix {CLIENT})")


def test_the_published_client_runs_a_whole_order(client_ready, test_db, make_key, tmp_path):
    key = make_key("npm shop")
    with test_db.db.read() as session:
        merchant_id = owner_for_key(session, key).merchant_id
    with running_servers(test_db.url, tmp_path) as [url]:
        run = subprocess.run(
            ["node", str(CLIENT / "drive.js")], cwd=CLIENT, capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "PRINTWORK_URL": url, "PWINTY_MERCHANT_ID": str(merchant_id),
                 "PWINTY_API_KEY": key, "IMAGE_URL": "https://example.com/photo.jpg"})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    errors = {name: step["error"] for name, step in out.items() if "error" in step}
    # The three the test means to fail, with messages the client shows its caller.
    assert set(errors) == {"cancelAgain", "missing", "badCreate"}, errors
    assert errors["cancelAgain"] == "Cannot cancel order"
    assert "not found" in errors["missing"] and "countryCode" in errors["badCreate"]

    created = out["create"]["ok"]["data"]
    assert created["status"] == "NotYetSubmitted" and out["update"]["ok"]["data"]["recipientName"] == "Ann Jones"
    assert out["addImage"]["ok"]["data"]["sku"] == "GLOBAL-PHO-4X6"
    assert [i["sizing"] for i in out["addImages"]["ok"]] == ["ShrinkToFit"]  # the client returns `res.items`
    assert out["validate"]["ok"]["data"]["isValid"] is True
    submitted = out["submitted"]["ok"]["data"]
    assert submitted["status"] == "Submitted" and len(submitted["images"]) == 2
    assert submitted["shippingInfo"]["shipments"] and submitted["price"] > 0
    assert [o["id"] for o in out["list"]["ok"]["data"]["content"]] == [created["id"]]
    assert {"name": "UNITED KINGDOM", "isoCode": "GB"} in out["countries"]["ok"]["data"]
    [price] = out["prices"]["ok"]  # the client returns `res.prices`
    assert price["sku"] == "GLOBAL-PHO-4X6" and price["currency"] == "GBP" and price["price"] > 0
