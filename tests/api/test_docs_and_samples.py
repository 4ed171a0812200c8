"""/docs works without internet; the sandbox's sample pictures are served, and only they."""

from __future__ import annotations

import re

import pyvips


def test_docs_load_their_assets_from_printwork_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from a CDN
    for source in sources:
        if source.endswith((".js", ".css")):
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source
    bundle = next(s for s in sources if s.endswith("swagger-ui-bundle.js"))
    # Swagger UI 5 renders OpenAPI 3.1 (4.x does not).
    assert re.search(rb'"5\.\d+\.\d+"', client.get(bundle).content)
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_sample_pictures_are_served(client):
    picture = client.get("/sandbox/v1/samples/landscape.jpg")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    image = pyvips.Image.new_from_buffer(picture.content, "")
    assert image.width > image.height >= 1500
    missing = client.get("/sandbox/v1/samples/nope.jpg")
    assert missing.status_code == 404 and missing.json()["outcome"] == "EntityNotFound"
    for name in ("..%2F..%2Fprintwork.db", "%2Fetc%2Fpasswd", "..", "landscape.jpg%00"):
        assert client.get(f"/sandbox/v1/samples/{name}").status_code == 404, name
