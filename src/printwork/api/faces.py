"""Where the faces meet the core: the renditions orders keep, and how callbacks are rendered.

The API app, the workers and the CLI commands that change orders all wire a database through
here, so an order changed anywhere leaves the same renditions behind.
"""

from __future__ import annotations

from printwork.api.prodigi_v4 import translate as v4
from printwork.core.callbacks.events import Announcer
from printwork.core.orders.renditions import Renditions
from printwork.db import Database


def order_renditions() -> Renditions:
    return Renditions({v4.RENDITION_FORMAT: v4.render_order})


def callback_announcer(public_base_url: str) -> Announcer:
    """How callbacks are rendered, without keeping any database's renditions (test callbacks)."""
    return v4.announcer(public_base_url, order_renditions())


def wire(database: Database, public_base_url: str) -> Announcer:
    """Keep `database`'s order renditions current at every commit; the callbacks' announcer."""
    renditions = order_renditions()
    renditions.attach(database)
    return v4.announcer(public_base_url, renditions)
