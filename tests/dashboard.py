"""Signing in to the dashboard in tests: users, CSRF tokens, signed-in clients."""

from __future__ import annotations

import re

from printwork.core.merchants.service import create_merchant_key
from printwork.core.users.service import create_user

PASSWORD = "correct horse battery staple"


def user_maker(test_db):
    def make(email: str, merchant: str | None = None, operator: bool = False) -> str:
        with test_db.db.transaction() as session:
            if merchant is not None:
                create_merchant_key(session, merchant, "sandbox")
            create_user(session, email, PASSWORD, merchant_name=merchant, operator=operator)
        return email

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str | None = None):
    page = client.get("/dashboard/sign-in")
    data = {"csrf_token": csrf_of(page.text), "email": email, "password": password}
    if next_path:
        data["next"] = next_path
    return client.post("/dashboard/sign-in", data=data, follow_redirects=False)


def signed_in_merchant(client, make_user):
    """The test client, signed in as a user of "Test Shop"; its CSRF token as `client.csrf`."""
    make_user("ann@shop.test", merchant="Test Shop")
    answer = sign_in(client, "ann@shop.test")
    assert answer.status_code == 303, answer.text
    client.csrf = csrf_of(client.get("/dashboard/keys").text)
    return client
