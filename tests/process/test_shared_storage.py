"""Files in an S3-compatible store, shared by an API process and a worker that have no folder in
common (as on two machines): the worker's print files and thumbnails are what the API serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from printwork.core.labs.service import create_lab_key
from printwork.core.orders.repository import shipments_t
from tests.process.test_e2e import backend, order, serving, wait_for  # noqa: F401 (fixture)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("signed_urls", [False, True], ids=["streamed", "signed-url"])
def test_an_order_runs_on_shared_object_storage_and_its_files_are_served_from_it(
        backend, tmp_path, make_key, image_server, test_db, loopback_s3, signed_urls):  # noqa: F811
    bucket = loopback_s3.new_bucket()
    env = {**backend, **loopback_s3.env(bucket, "pw"), "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0",
           "PRINTWORK_RECONCILE_GRACE_SECONDS": "0.5", "PRINTWORK_RECONCILE_INTERVAL_SECONDS": "0.5"}
    if signed_urls:
        env["PRINTWORK_STORAGE_SIGNED_URL_SECONDS"] = "300"
    api_dir, worker_dir = tmp_path / "api-host", tmp_path / "worker-host"
    worker_env = {**os.environ, "PRINTWORK_DATA_DIR": str(worker_dir), "PRINTWORK_SEED_DEMO": "0", **env}
    key = {"X-API-Key": make_key(environment="live")}
    with serving(api_dir, env, workers=False) as url:
        worker = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "worker", "--threads", "2"],
                                  env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            created = httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"), headers=key)
            assert created.status_code == 200, created.text
            order_id = created.json()["order"]["id"]
            placed = wait_for(lambda: httpx.get(f"{url}/v4.0/orders/{order_id}", headers=key).json()["order"],
                              lambda o: o["status"]["details"]["printReadyAssetsPrepared"] == "Complete", 60)
        finally:
            worker.terminate()
            worker.wait(timeout=15)

        numeric_id = int(order_id.removeprefix("ord_"))
        stored = loopback_s3.keys(bucket)
        assert any(k.startswith(f"pw/orders/{numeric_id}/originals/") for k in stored), stored
        assert any(k.startswith(f"pw/orders/{numeric_id}/print/") for k in stored), stored
        assert any(k.startswith(f"pw/orders/{numeric_id}/thumbnails/") for k in stored), stored
        # Neither host kept a file of its own: every byte is in the bucket.
        assert files_under(api_dir / "files") == [] and files_under(worker_dir / "files") == []
        assert files_under(worker_dir / "scratch") == []

        # The worker wrote the URL with its own PRINTWORK_PUBLIC_BASE_URL (unset here): the path is ours.
        thumbnail_url = url + urlsplit(placed["items"][0]["assets"][0]["thumbnailUrl"]).path
        thumbnail = httpx.get(thumbnail_url)
        [thumb_key] = [k for k in stored if "/thumbnails/" in k]
        in_bucket = loopback_s3.client().get_object(Bucket=bucket, Key=thumb_key)["Body"].read()
        if signed_urls:
            assert thumbnail.status_code == 307
            assert thumbnail.headers["location"].startswith(loopback_s3.endpoint_url)
            thumbnail = httpx.get(thumbnail.headers["location"])
        assert thumbnail.status_code == 200 and thumbnail.content == in_bucket
        assert thumbnail.headers["content-type"] == "image/jpeg"

        with test_db.db.read() as session:
            lab_code = session.execute(select(shipments_t.c.lab_code)).scalar_one()
        with test_db.db.transaction() as session:
            lab = {"X-API-Key": create_lab_key(session, lab_code, {lab_code}).key}
        [shipment] = httpx.get(f"{url}/lab/v1/shipments", headers=lab).json()["shipments"]
        print_url = shipment["items"][0]["assets"][0]["printFileUrl"]
        print_file = httpx.get(print_url, headers=lab, follow_redirects=True)
        assert print_file.status_code == 200, print_file.text
        assert print_file.content[:2] == b"\xff\xd8"
        assert print_file.headers["content-type"] == "image/jpeg"
        assert "attachment" in print_file.headers["content-disposition"]
        [print_key] = [k for k in stored if "/print/" in k]
        assert print_file.content == loopback_s3.client().get_object(Bucket=bucket, Key=print_key)["Body"].read()

        # Gone from the store (retention, an operator) is a 404, never the store's own error page.
        loopback_s3.client().delete_object(Bucket=bucket, Key=thumb_key)
        gone = httpx.get(thumbnail_url)
        assert gone.status_code == 404 and gone.json()["outcome"] == "EntityNotFound"
