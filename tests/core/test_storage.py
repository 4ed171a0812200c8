"""The asset store's promises, held by the local folder and by the S3 store alike."""

from __future__ import annotations

import pickle
from pathlib import Path

import httpx
import pytest

from printwork.config import Settings
from printwork.core.assets.s3_storage import S3Storage, parse_s3_url
from printwork.core.assets.storage import LocalStorage
from printwork.storage import open_asset_storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    s3 = request.getfixturevalue("loopback_s3")
    settings = Settings(data_dir=tmp_path, **{k.removeprefix("PRINTWORK_").lower(): v
                                              for k, v in s3.env(s3.new_bucket()).items()})
    store = open_asset_storage(settings)
    assert isinstance(store, S3Storage)
    return store


def scratch_file(storage, content: bytes) -> Path:
    path = storage.scratch() / f"work-{len(content)}-{content[:4].hex()}"
    path.write_bytes(content)
    return path


def test_a_stored_file_reads_back_whole_by_every_route(storage):
    content = bytes(range(256)) * 5000  # more than one chunk
    storage.put("orders/1/originals/7", scratch_file(storage, content))
    assert storage.exists("orders/1/originals/7")
    assert storage.size("orders/1/originals/7") == len(content)
    with storage.local_path("orders/1/originals/7") as path:
        assert path.read_bytes() == content
    size, chunks = storage.open_chunks("orders/1/originals/7")
    assert size == len(content) and b"".join(chunks) == content


def test_writing_a_key_again_holds_the_second_file_whole(storage):
    storage.put("orders/1/print/7.jpg", scratch_file(storage, b"first" * 1000))
    storage.put("orders/1/print/7.jpg", scratch_file(storage, b"second"))
    with storage.local_path("orders/1/print/7.jpg") as path:
        assert path.read_bytes() == b"second"


def test_a_missing_key_is_absent_everywhere_and_deleting_it_is_no_error(storage):
    assert not storage.exists("orders/9/thumbnails/1.jpg")
    assert storage.size("orders/9/thumbnails/1.jpg") is None
    with pytest.raises(FileNotFoundError):
        with storage.local_path("orders/9/thumbnails/1.jpg"):
            pass
    with pytest.raises(FileNotFoundError):
        storage.open_chunks("orders/9/thumbnails/1.jpg")
    storage.delete("orders/9/thumbnails/1.jpg")
    storage.put("orders/9/thumbnails/1.jpg", scratch_file(storage, b"x"))
    storage.delete("orders/9/thumbnails/1.jpg")
    assert not storage.exists("orders/9/thumbnails/1.jpg")


@pytest.mark.parametrize("key", ["../outside", "orders/../../x", "/etc/passwd"])
def test_a_key_cannot_reach_outside_the_store(storage, key):
    with pytest.raises(ValueError):
        storage.exists(key)


def test_the_copy_handed_to_image_code_is_removed_afterwards(storage):
    storage.put("orders/2/originals/1", scratch_file(storage, b"picture"))
    before = set(storage.scratch().iterdir())
    with storage.local_path("orders/2/originals/1") as path:
        assert path.read_bytes() == b"picture"
    assert set(storage.scratch().iterdir()) == before
    assert storage.exists("orders/2/originals/1")


def test_the_s3_store_travels_to_a_slow_work_process_and_keeps_its_prefix(loopback_s3, tmp_path):
    bucket = loopback_s3.new_bucket()
    settings = Settings(data_dir=tmp_path, storage_url=f"s3://{bucket}/shop-a/files",
                        s3_endpoint_url=loopback_s3.endpoint_url, s3_region="us-east-1",
                        s3_access_key_id="printwork-test", s3_secret_access_key="printwork-test-secret")
    store = open_asset_storage(settings)
    store.put("orders/3/originals/1", scratch_file(store, b"abc"))
    travelled = pickle.loads(pickle.dumps(store))  # as the process pool sends it
    assert travelled.size("orders/3/originals/1") == 3
    assert loopback_s3.keys(bucket) == ["shop-a/files/orders/3/originals/1"]


def test_a_signed_url_fetches_the_file_with_its_type_and_name(loopback_s3, tmp_path):
    bucket = loopback_s3.new_bucket()
    store = S3Storage(bucket, "", tmp_path / "scratch", endpoint_url=loopback_s3.endpoint_url, region="us-east-1",
                      access_key_id="printwork-test", secret_access_key="printwork-test-secret")
    store.put("orders/4/print/1.jpg", scratch_file(store, b"\xff\xd8jpeg"))
    url = store.signed_url("orders/4/print/1.jpg", 60, "image/jpeg", "ori_1.jpg")
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == b"\xff\xd8jpeg"
    assert answer.headers["content-type"] == "image/jpeg"
    assert "ori_1.jpg" in answer.headers["content-disposition"]
    assert LocalStorage(tmp_path / "files").signed_url("orders/4/print/1.jpg", 60, "image/jpeg") is None


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "https://bucket/prefix", "s3://bucket/p?x=1", "/var/files"])
def test_a_storage_url_that_is_not_an_s3_location_stops_the_process_at_start(url):
    with pytest.raises(ValueError, match="is not an S3 location"):
        Settings(storage_url=url)


def test_an_s3_url_names_a_bucket_and_an_optional_prefix():
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b/")
