"""A sandbox order of a shipped sample picture reaches Complete with no network; a live one may not use it."""

from __future__ import annotations

import pytest

from tests.process.test_pipeline import create, get, order_body, prints_catalog


@pytest.fixture
def catalog(use_catalog):
    use_catalog(prints_catalog())


def test_a_sandbox_order_of_a_sample_picture_completes_offline(client, headers, catalog, pipeline_factory):
    # The rules' public base URL is https://printwork.test, which resolves nowhere: the picture
    # can only have come from the package.
    pipeline = pipeline_factory(allow_private_urls=False)
    order_id = create(client, headers, order_body("https://printwork.test/sandbox/v1/samples/landscape.jpg"))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete" and order["status"]["issues"] == []
    assert order["items"][0]["assets"][0]["thumbnailUrl"]


def test_a_live_order_cannot_use_the_sample_address(client, make_key, catalog, pipeline_factory):
    live = {"X-API-Key": make_key("Test Shop", "live")}
    pipeline = pipeline_factory(allow_private_urls=False, retry_delays_live=(0,) * 9)
    order_id = create(client, live, order_body("https://printwork.test/sandbox/v1/samples/landscape.jpg"))
    pipeline.run(order_id)
    order = get(client, live, order_id)
    assert order["status"]["details"]["downloadAssets"] == "Error"
