"""Where the faces meet the core: the renditions orders keep, and how callbacks are rendered.

The API app, the workers and the CLI commands that change orders all wire a database through
here, so an order changed anywhere leaves the same renditions behind, and its callbacks are
rendered by the face it was placed through, whoever changed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from printwork.api.prodigi_v4 import translate as v4
from printwork.api.pwinty_v3 import translate as v3
from printwork.core.callbacks.events import Announcer, CallbackFace
from printwork.core.orders.domain import OrderView
from printwork.core.orders.renditions import Renditions
from printwork.db import Database


@dataclass(frozen=True)
class OrderFace:
    """What the core needs of a face that orders can be placed through."""

    name: str  # what orders.face remembers
    rendition_format: str
    render_order: Callable[[OrderView], bytes]
    callbacks: Callable[[str], CallbackFace]  # given the public base URL


ORDER_FACES: dict[str, OrderFace] = {
    face.name: face
    for face in (
        OrderFace(v4.FACE, v4.RENDITION_FORMAT, v4.render_order, v4.callbacks),
        OrderFace(v3.FACE, v3.RENDITION_FORMAT, v3.render_order, v3.callbacks),
    )
}
DEFAULT_FACE = v4.FACE


def order_renditions() -> Renditions:
    return Renditions({face.rendition_format: face.render_order for face in ORDER_FACES.values()},
                      {face.name: face.rendition_format for face in ORDER_FACES.values()})


def _announcer(public_base_url: str, renditions: Renditions) -> Announcer:
    return Announcer(renditions, {face.name: face.callbacks(public_base_url) for face in ORDER_FACES.values()})


def callback_rendering(public_base_url: str, face: str = DEFAULT_FACE) -> tuple[CallbackFace, Callable[[OrderView], bytes]]:
    """How `face` renders callbacks and the order they carry, without any database (test callbacks)."""
    order_face = ORDER_FACES[face]
    return order_face.callbacks(public_base_url), order_face.render_order


def wire(database: Database, public_base_url: str) -> Announcer:
    """Keep `database`'s order renditions current at every commit; the callbacks' announcer."""
    renditions = order_renditions()
    renditions.attach(database)
    return _announcer(public_base_url, renditions)
