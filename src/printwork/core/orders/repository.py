"""Every query on orders. Hot paths use SQLAlchemy Core: one statement each, no identity map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import orjson
from sqlalchemy import Integer, and_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from printwork.core.errors import EntityNotFound
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import Owner
from printwork.core.orders.domain import (
    Address,
    AssetView,
    ChargeItemView,
    ChargeView,
    Cost,
    DraftPrice,
    IssueView,
    ItemView,
    OrderListQuery,
    OrderView,
    Recipient,
    ShipmentView,
    StatusDetails,
)
from printwork.core.orders.models import (
    Charge,
    ChargeItem,
    Order,
    OrderAsset,
    OrderIssue,
    OrderItem,
    OrderRendition,
    Shipment,
    ShipmentItem,
)
from printwork.core.pricing.money import money_string
from printwork.db import Database, RawWriter

merchants_t = Merchant.__table__
orders_t = Order.__table__
items_t = OrderItem.__table__
assets_t = OrderAsset.__table__
issues_t = OrderIssue.__table__
renditions_t = OrderRendition.__table__
shipments_t = Shipment.__table__
shipment_items_t = ShipmentItem.__table__
charges_t = Charge.__table__
charge_items_t = ChargeItem.__table__


def _insert_returning_id(table):
    return insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in table.c if c.name != "id"}).returning(table.c.id)


# Columns the order process fills in later; a new row starts with these.
NEW_ASSET_DEFAULTS = {
    "attempts": 0, "next_attempt_at": None, "original_format": None, "original_width": None,
    "original_height": None, "original_bytes": None, "downloaded_at": None, "prepared_at": None,
    "thumbnail_token": None,
}
NEW_ISSUE_DEFAULTS = {"asset_id": None, "authorisation_url": None, "payment_amount": None, "payment_currency": None}


@dataclass(frozen=True)
class MerchantTerms:
    billing_currency: str
    pause_seconds: int | None
    pause_indefinite: bool
    pays_per_order: bool


def merchant_terms(raw: RawWriter, merchant_id: int) -> MerchantTerms:
    row = raw.execute(
        "merchant-terms",
        lambda: select(merchants_t.c.billing_currency, merchants_t.c.pause_seconds, merchants_t.c.pause_indefinite,
                       merchants_t.c.pays_per_order).where(merchants_t.c.id == bindparam("merchant_id")),
        {"merchant_id": merchant_id},
    ).fetchone()
    return MerchantTerms(row[0], row[1], bool(row[2]), bool(row[3]))


def insert_order(raw: RawWriter, values: dict) -> int:
    return raw.returning_one("insert-order", lambda: _insert_returning_id(orders_t), values)


def insert_item(raw: RawWriter, values: dict) -> int:
    return raw.returning_one("insert-item", lambda: _insert_returning_id(items_t), values)


def insert_asset(raw: RawWriter, values: dict) -> int:
    return raw.returning_one("insert-asset", lambda: _insert_returning_id(assets_t), values)


def insert_issue(raw: RawWriter, values: dict) -> int:
    return raw.returning_one("insert-issue", lambda: _insert_returning_id(issues_t), values)


def find_by_idempotency_key(raw: RawWriter, owner: Owner, key: str) -> int | None:
    row = raw.execute(
        "order-by-idempotency-key",
        lambda: select(orders_t.c.id).where(
            orders_t.c.merchant_id == bindparam("merchant_id"),
            orders_t.c.environment == bindparam("environment"),
            orders_t.c.idempotency_key == bindparam("key"),
        ),
        {"merchant_id": owner.merchant_id, "environment": owner.environment, "key": key},
    ).fetchone()
    return row[0] if row else None


def store_rendition(raw: RawWriter, order_id: int, fmt: str, version: int, body: bytes) -> None:
    raw.execute(
        "insert-rendition",
        lambda: insert(renditions_t).values(
            {c.name: bindparam(c.name, type_=c.type) for c in renditions_t.c}
        ),
        {"order_id": order_id, "format": fmt, "version": version, "body": body},
    )


def upsert_renditions(session: Session, rows: list[dict]) -> None:
    """Insert or replace, but never with an older version than the one stored."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(renditions_t).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[renditions_t.c.order_id, renditions_t.c.format],
        set_={"version": statement.excluded.version, "body": statement.excluded.body},
        where=renditions_t.c.version < statement.excluded.version,
    )
    session.execute(statement)


def renditions_for(session: Session, owner: Owner, order_ids: Sequence[int], fmt: str) -> dict[int, bytes | None]:
    """Order id -> its rendition in `fmt` if that is current, else None; ids not owned are absent.

    The same query as the fast paths below, run in the caller's session (and transaction)."""
    statement = _rendition_select([orders_t.c.id.in_(list(order_ids))])
    params = {"fmt": fmt, "merchant_id": owner.merchant_id, "environment": owner.environment}
    return {
        order_id: (bytes(body) if rendered_version == version else None)
        for order_id, version, rendered_version, body in session.execute(statement, params)
    }


def load_order_views(session: Session, order_ids: Sequence[int]) -> dict[int, OrderView]:
    if not order_ids:
        return {}
    items: dict[int, list[ItemView]] = {}
    items_by_id: dict[int, ItemView] = {}
    for row in session.execute(
        select(items_t).where(items_t.c.order_id.in_(order_ids)).order_by(items_t.c.order_id, items_t.c.position)
    ).mappings():
        cost = None
        if row["recipient_cost_amount"] is not None:
            cost = Cost(row["recipient_cost_amount"], row["recipient_cost_currency"])
        view = ItemView(
            id=row["id"],
            status=row["status"],
            merchant_reference=row["merchant_reference"],
            sku=row["sku"],
            copies=row["copies"],
            sizing=row["sizing"],
            attributes_json=row["attributes_json"],
            recipient_cost=cost,
        )
        items.setdefault(row["order_id"], []).append(view)
        items_by_id[row["id"]] = view
    for row in session.execute(
        select(assets_t).where(assets_t.c.order_id.in_(order_ids)).order_by(assets_t.c.item_id, assets_t.c.position)
    ).mappings():
        items_by_id[row["item_id"]].assets.append(
            AssetView(
                id=row["id"],
                print_area=row["print_area"],
                url=row["url"],
                md5_hash=row["md5_hash"],
                status=row["status"],
                thumbnail_url=row["thumbnail_url"],
            )
        )
    issues: dict[int, list[IssueView]] = {}
    for row in session.execute(
        select(issues_t).where(issues_t.c.order_id.in_(order_ids)).order_by(issues_t.c.id)
    ).mappings():
        issues.setdefault(row["order_id"], []).append(
            IssueView(
                row["object_id"], row["error_code"], row["description"], row["authorisation_url"],
                None if row["payment_amount"] is None
                else Cost(_amount(row["payment_amount"], row["payment_currency"]), row["payment_currency"]),
            )
        )
    shipments: dict[int, list[ShipmentView]] = {}
    shipments_by_id: dict[int, ShipmentView] = {}
    for row in session.execute(
        select(shipments_t).where(shipments_t.c.order_id.in_(order_ids)).order_by(shipments_t.c.order_id, shipments_t.c.position)
    ).mappings():
        view = ShipmentView(
            id=row["id"], status=row["status"], carrier=row["carrier"], service=row["service"],
            tracking_number=row["tracking_number"], tracking_url=row["tracking_url"], dispatch_date=row["dispatch_date"],
            item_ids=[], lab_country_code=row["lab_country_code"], lab_code=row["lab_code"],
            lab_stage=row["lab_stage"], tracked=bool(row["tracked"]),
        )
        shipments.setdefault(row["order_id"], []).append(view)
        shipments_by_id[row["id"]] = view
    if shipments_by_id:
        for shipment_id, item_id in session.execute(
            select(shipment_items_t.c.shipment_id, shipment_items_t.c.item_id)
            .where(shipment_items_t.c.shipment_id.in_(list(shipments_by_id)))
            .order_by(shipment_items_t.c.shipment_id, shipment_items_t.c.item_id)
        ):
            shipments_by_id[shipment_id].item_ids.append(item_id)
    charges: dict[int, list[ChargeView]] = {}
    charges_by_id: dict[int, ChargeView] = {}
    for row in session.execute(
        select(charges_t).where(charges_t.c.order_id.in_(order_ids)).order_by(charges_t.c.order_id, charges_t.c.id)
    ).mappings():
        view = ChargeView(row["id"], row["charge_type"], row["invoice_number"],
                          Cost(_amount(row["total_amount"], row["currency"]), row["currency"]), [])
        charges.setdefault(row["order_id"], []).append(view)
        charges_by_id[row["id"]] = view
    if charges_by_id:
        for row in session.execute(
            select(charge_items_t).where(charge_items_t.c.charge_id.in_(list(charges_by_id))).order_by(charge_items_t.c.id)
        ).mappings():
            charges_by_id[row["charge_id"]].items.append(
                ChargeItemView(row["id"], row["shipment_id"], row["item_id"], Cost(_amount(row["amount"], row["currency"]), row["currency"]))
            )
    views = {}
    for row in session.execute(select(orders_t).where(orders_t.c.id.in_(order_ids))).mappings():
        views[row["id"]] = OrderView(
            id=row["id"],
            created=row["created_at"],
            last_updated=row["updated_at"],
            version=row["version"],
            callback_url=row["callback_url"],
            merchant_reference=row["merchant_reference"],
            shipping_method=row["shipping_method"],
            idempotency_key=row["idempotency_key"],
            stage=row["stage"],
            details=StatusDetails(
                download_assets=row["download_assets"],
                print_ready_assets_prepared=row["print_ready_assets_prepared"],
                allocate_production_location=row["allocate_production_location"],
                in_production=row["in_production"],
                shipping=row["shipping"],
            ),
            issues=issues.get(row["id"], []),
            recipient=Recipient(
                name=row["recipient_name"],
                email=row["recipient_email"],
                phone_number=row["recipient_phone"],
                address=Address(
                    line1=row["address_line1"],
                    line2=row["address_line2"],
                    postal_or_zip_code=row["address_postal_code"],
                    country_code=row["address_country_code"],
                    town_or_city=row["address_town"],
                    state_or_county=row["address_state"],
                ),
            ),
            items=items.get(row["id"], []),
            packing_slip_url=row["packing_slip_url"],
            packing_slip_status=row["packing_slip_status"],
            metadata_json=row["metadata_json"],
            shipments=shipments.get(row["id"], []),
            charges=charges.get(row["id"], []),
            payment_option=row["payment_option"],
            draft_price=_draft_price(row["draft_price_json"]),
        )
    return views


def _draft_price(text: str | None) -> DraftPrice | None:
    if not text:
        return None
    price = orjson.loads(text)
    currency = price["currency"]
    return DraftPrice(Cost(price["items"], currency), Cost(price["shipping"], currency),
                      tuple(Cost(amount, currency) for amount in price.get("per_item", ())))


def _amount(value, currency: str) -> str:
    """A stored Numeric as the currency's decimal string (the column keeps four places)."""
    return money_string(Decimal(value), currency)


# The hottest reads skip the ORM session: statements are compiled once per shape and run on
# the DBAPI cursor. Their answers are the same as renditions_for()/list_order_ids() give.

def _rendition_select(conditions):
    return (
        select(orders_t.c.id, orders_t.c.version, renditions_t.c.version, renditions_t.c.body)
        .select_from(
            orders_t.outerjoin(
                renditions_t,
                and_(renditions_t.c.order_id == orders_t.c.id, renditions_t.c.format == bindparam("fmt")),
            )
        )
        .where(
            orders_t.c.merchant_id == bindparam("merchant_id"),
            orders_t.c.environment == bindparam("environment"),
            *conditions,
        )
    )


def fast_rendition(database: Database, owner: Owner, order_id: int, fmt: str) -> tuple[bool, bytes | None]:
    """(exists for this owner, current rendition or None)."""
    rows = database.fast.fetch_all(
        "order-rendition",
        lambda: _rendition_select([orders_t.c.id == bindparam("order_id")]),
        {"fmt": fmt, "merchant_id": owner.merchant_id, "environment": owner.environment, "order_id": order_id},
    )
    if not rows:
        return False, None
    _, version, rendered_version, body = rows[0]
    return True, (bytes(body) if rendered_version == version else None)


def _padded(values: tuple, name: str) -> tuple[int, dict]:
    """IN-lists padded to a power of two (repeating the last value) to bound statement shapes."""
    size = 1
    while size < len(values):
        size *= 2
    padded = list(values) + [values[-1]] * (size - len(values))
    return size, {f"{name}{i}": v for i, v in enumerate(padded)}


def fast_rendition_page(database: Database, owner: Owner, query: OrderListQuery, fmt: str) -> list[tuple[int, bytes | None]]:
    """`top + 1` of the owner's orders, newest first, each with its current rendition or None."""
    values: dict = {"fmt": fmt, "merchant_id": owner.merchant_id, "environment": owner.environment,
                    "limit": query.top + 1, "offset": query.skip}
    id_count = ref_count = 0
    if query.created_from is not None:
        values["created_from"] = query.created_from
    if query.created_to is not None:
        values["created_to"] = query.created_to
    stage_count = 0
    if query.stages is not None:
        if not query.stages:
            return []
        stage_count, extra = _padded(query.stages, "stage")
        values.update(extra)
    if query.order_ids is not None:
        if not query.order_ids:
            return []
        id_count, extra = _padded(query.order_ids, "id")
        values.update(extra)
    if query.merchant_references is not None:
        if not query.merchant_references:
            return []
        ref_count, extra = _padded(query.merchant_references, "ref")
        values.update(extra)
    shape = ("page", query.created_from is not None, query.created_to is not None, stage_count, id_count, ref_count)

    def build():
        conditions = []
        if shape[1]:
            conditions.append(orders_t.c.created_at >= bindparam("created_from"))
        if shape[2]:
            conditions.append(orders_t.c.created_at < bindparam("created_to"))
        if stage_count:
            conditions.append(orders_t.c.stage.in_([bindparam(f"stage{i}") for i in range(stage_count)]))
        if id_count:
            conditions.append(orders_t.c.id.in_([bindparam(f"id{i}") for i in range(id_count)]))
        if ref_count:
            conditions.append(orders_t.c.merchant_reference.in_([bindparam(f"ref{i}") for i in range(ref_count)]))
        return (
            _rendition_select(conditions)
            .order_by(orders_t.c.id.desc())
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )

    return [
        (order_id, bytes(body) if rendered_version == version else None)
        for order_id, version, rendered_version, body in database.fast.fetch_all(shape, build, values)
    ]


def thumbnail_owner(session: Session, token: str) -> tuple[int, int] | None:
    """(order id, asset id) of the thumbnail published under `token`."""
    row = session.execute(select(assets_t.c.order_id, assets_t.c.id).where(assets_t.c.thumbnail_token == token)).first()
    return (row[0], row[1]) if row else None


def count_orders(session: Session, owner: Owner) -> int:
    return session.execute(select(func.count()).select_from(orders_t).where(
        orders_t.c.merchant_id == owner.merchant_id, orders_t.c.environment == owner.environment)).scalar_one()


def order_stage_and_payment(session: Session, owner: Owner, order_id: int) -> tuple[str, str | None] | None:
    row = session.execute(select(orders_t.c.stage, orders_t.c.payment_option).where(
        orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
        orders_t.c.environment == owner.environment)).first()
    return None if row is None else (row[0], row[1])


def owned_order_id(session: Session, owner: Owner, order_id: int) -> int:
    """The order's id when it is the owner's (merchant and environment); EntityNotFound otherwise."""
    found = session.execute(select(orders_t.c.id).where(
        orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
        orders_t.c.environment == owner.environment)).first()
    if found is None:
        raise EntityNotFound(f"order {order_id} not found")
    return order_id
