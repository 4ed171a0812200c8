"""The lean dispatcher must pick exactly the route Starlette's Router would."""

from __future__ import annotations

import pytest
from starlette.responses import Response
from starlette.routing import Match, Route

from printwork.api.dispatch import Dispatcher, is_plain


async def first(request):
    return Response("first")


async def second(request):
    return Response("second")


async def third(request):
    return Response("third")


def sync_handler(request):
    return Response("sync")


TABLE = [
    Route("/things/spine", first, methods=["POST"]),
    Route("/things/{name}", second, methods=["GET"]),
    Route("/things/{name}/parts", third, methods=["GET"]),
    Route("/things/special/parts", first, methods=["GET"]),  # shadowed by the route above
    Route("/sync", sync_handler, methods=["GET"]),
]


def starlette_choice(method: str, path: str):
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in TABLE:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route.endpoint, child["path_params"]
    return None, {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/things/spine"),
        ("GET", "/things/spine"),  # the POST-only route matches the path, but not the method
        ("HEAD", "/things/spine"),
        ("GET", "/things/abc"),
        ("GET", "/things/special/parts"),
        ("GET", "/things/abc/parts"),
        ("DELETE", "/things/abc"),
        ("GET", "/things/"),
        ("GET", "/nothing"),
    ],
)
def test_the_dispatcher_picks_the_route_starlette_would(method, path):
    dispatcher = Dispatcher(TABLE)
    endpoint, params = dispatcher.match(method, path)
    expected_endpoint, expected_params = starlette_choice(method, path)
    assert (endpoint, params) == (expected_endpoint, expected_params)


def test_synchronous_handlers_are_left_to_starlette():
    assert Dispatcher(TABLE).match("GET", "/sync") == (None, {})


def test_only_in_memory_responses_without_background_work_are_sent_directly():
    from starlette.background import BackgroundTask
    from starlette.responses import FileResponse

    assert is_plain(Response(b"x"))
    assert not is_plain(Response(b"x", background=BackgroundTask(print)))
    assert not is_plain(FileResponse(__file__))
