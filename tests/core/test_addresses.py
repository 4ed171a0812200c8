"""The fetch guard: only public addresses, judged on every resolved address."""

from __future__ import annotations

import ipaddress

import pytest

from printwork.core.assets.addresses import RefusedAddress, check_url, is_public

REFUSED = [
    "127.0.0.1", "127.8.9.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:0001::1", "64:ff9b::a00:1",
    "64:ff9b:1::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "198.18.0.1", "192.0.2.1",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(RefusedAddress):
        check_url(f"https://{host}/image.jpg")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert is_public(ipaddress.ip_address(address))


def fake_resolver(answers):
    return lambda host, port: answers[host]


def test_a_name_is_refused_if_any_of_its_addresses_is_private():
    resolve = fake_resolver({"mixed.example": ["93.184.216.34", "10.0.0.5"], "good.example": ["93.184.216.34"]})
    with pytest.raises(RefusedAddress, match="10.0.0.5"):
        check_url("https://mixed.example/a.png", resolve=resolve)
    assert check_url("https://good.example/a.png", resolve=resolve) == [ipaddress.ip_address("93.184.216.34")]


def test_private_addresses_may_be_allowed_by_configuration():
    assert check_url("http://127.0.0.1:8080/a.png", allow_private=True) == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.parametrize("url, reason", [
    ("ftp://93.184.216.34/a.png", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("https:///nohost", "no host"),
    ("https://user:pw@93.184.216.34/a.png", "credentials"),
    ("https://93.184.216.34:99999/a.png", "port"),
])
def test_unusable_urls_are_refused_with_a_reason(url, reason):
    with pytest.raises(RefusedAddress, match=reason):
        check_url(url)


def test_an_unresolvable_host_is_refused():
    def fail(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(RefusedAddress, match="could not be resolved"):
        check_url("https://nowhere.invalid/a.png", resolve=fail)


def test_localhost_by_name_is_refused():
    with pytest.raises(RefusedAddress):
        check_url("http://localhost/a.png")
