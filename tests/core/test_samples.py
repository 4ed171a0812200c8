"""Which asset URLs name a sample picture of this very server."""

from printwork.core.assets import samples


def test_a_sample_url_of_this_server_names_the_packaged_file():
    base = "http://127.0.0.1:8000"
    assert samples.sample_for_url(f"{base}/sandbox/v1/samples/landscape.jpg", base).name == "landscape.jpg"
    assert samples.sample_for_url("http://localhost:8000/sandbox/v1/samples/square.jpg", base).name == "square.jpg"


def test_nothing_else_is_a_sample():
    base = "http://127.0.0.1:8000"
    for url in ["http://127.0.0.1:8001/sandbox/v1/samples/landscape.jpg",   # another port
                "http://10.0.0.1:8000/sandbox/v1/samples/landscape.jpg",    # another host
                "https://127.0.0.1:8000/sandbox/v1/samples/landscape.jpg",  # another scheme
                f"{base}/sandbox/v1/samples/../../printwork.db", f"{base}/sandbox/v1/samples/nope.jpg",
                f"{base}/thumbnails/landscape.jpg", "http://[::1:8000/x"]:
        assert samples.sample_for_url(url, base) is None, url
    assert samples.sample_for_url("https://shop.example/sandbox/v1/samples/portrait.jpg",
                                  "https://shop.example").name == "portrait.jpg"
