"""Orders kept rendered in every face's wire format, current at every commit.

A read answers from a stored rendition only while its version equals the order's. So whatever
changes an order (and moves its version) calls `order_changed` in that transaction, and just
before the commit `Renditions.store_changed` renders each changed order in the format of the
face it was placed through (the one its shop reads and its callbacks carry) and stores it: the transaction holds the order's row, so no other writer can slip a newer version
in between, and a reader never finds the work of a step without its rendition. Callbacks take
the same bodies (`current`) instead of rendering again. Another face reading the order renders
it the first time and stores that with a version check (service.keep), so an order read through
two faces pays for the second only once per version.

The renderers come from the faces (the wiring in `api/faces.py`); the core knows them only
as format name -> function of an OrderView.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwork.core.orders.domain import OrderView
from printwork.core.orders import repository
from printwork.core.orders.repository import load_order_views, orders_t

Renderer = Callable[[OrderView], bytes]

# session.info keys: the orders this transaction changed, and what it has rendered of them
# ({(order id, format): (version, body)}).
CHANGED_ORDERS = "printwork.changed_orders"
RENDERED = "printwork.rendered"
HOOK = "renditions"


def order_changed(session: Session, order_id: int) -> None:
    """Record that this transaction moved the order's version: its renditions are renewed at commit."""
    session.info.setdefault(CHANGED_ORDERS, set()).add(order_id)


class Renditions:
    """The faces' order renderers, and the pre-commit step that keeps their renditions current."""

    def __init__(self, renderers: Mapping[str, Renderer], face_formats: Mapping[str, str] | None = None) -> None:
        self.renderers = dict(renderers)
        # The face an order remembers -> the format kept current for it; formats of faces not
        # listed here are kept current for every order.
        self.face_formats = dict(face_formats or {})

    def attach(self, database) -> None:
        """Renew renditions before every commit on `database` (one hook per database)."""
        database.before_commit[HOOK] = self.store_changed

    def current(self, session: Session, order_id: int, fmt: str) -> bytes | None:
        """The order as it is in this transaction, rendered in `fmt` (once per version)."""
        version = session.execute(select(orders_t.c.version).where(orders_t.c.id == order_id)).scalar_one_or_none()
        if version is None:
            return None
        rendered = session.info.setdefault(RENDERED, {})
        kept = rendered.get((order_id, fmt))
        if kept is not None and kept[0] == version:
            return kept[1]
        view = load_order_views(session, [order_id])[order_id]
        body = self.renderers[fmt](view)
        rendered[(order_id, fmt)] = (view.version, body)
        return body

    def store_changed(self, session: Session) -> None:
        changed = session.info.pop(CHANGED_ORDERS, None)
        if not changed:
            return
        rendered = session.info.pop(RENDERED, {})
        ids = sorted(changed)
        orders = session.execute(select(orders_t.c.id, orders_t.c.version, orders_t.c.face)
                                 .where(orders_t.c.id.in_(ids))).all()
        wanted = {order_id: self._formats_for(face) for order_id, _, face in orders}
        versions = {order_id: version for order_id, version, _ in orders}
        missing = [i for i in versions
                   if any(rendered.get((i, fmt), (None,))[0] != versions[i] for fmt in wanted[i])]
        views = load_order_views(session, missing) if missing else {}
        rows = []
        for order_id, version in versions.items():
            for fmt in wanted[order_id]:
                kept = rendered.get((order_id, fmt))
                body = kept[1] if kept is not None and kept[0] == version else self.renderers[fmt](views[order_id])
                rows.append({"order_id": order_id, "format": fmt, "version": version, "body": body})
        if rows:
            repository.upsert_renditions(session, rows)

    def _formats_for(self, face: str) -> tuple[str, ...]:
        own = self.face_formats.get(face)
        if own is None:
            return tuple(self.renderers)
        return (own,)
