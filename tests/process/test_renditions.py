"""Reading an order costs the same however far it went: every change leaves a current rendition.

After every commit that touches an order (each pipeline step, each action, each lab report or
sandbox control), a GET and a list must be answered from the stored rendition, without
rendering, and that rendition must equal a fresh render of the order as the database has it.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from printwork.api.prodigi_v4 import translate
from printwork.core.orders.repository import load_order_views, orders_t, renditions_t
from tests.process.test_pipeline import create, order_body, prints_catalog


@pytest.fixture
def catalog(use_catalog):
    use_catalog(prints_catalog())


class ReadProbe:
    """After each committed transaction: read the order through v4 and check what answered."""

    def __init__(self, test_db, client, headers, monkeypatch) -> None:
        self.db = test_db.db
        self.client = client
        self.headers = headers
        self.order_id: int | None = None
        self.checks = 0
        self.stages: list[tuple] = []
        self.read_renders = 0
        self.real_render = real_render = translate.render_order

        def counting_render(view):  # only readers look the renderer up here; the wiring holds its own
            self.read_renders += 1
            return real_render(view)

        monkeypatch.setattr(translate, "render_order", counting_render)
        real_transaction = self.db.transaction

        @contextmanager
        def probed(*args, **kwargs):
            with real_transaction(*args, **kwargs) as session:
                yield session
            self.check()

        monkeypatch.setattr(self.db, "transaction", probed)

    def watch(self, order_id: int) -> None:
        """From now on check this order (its creation rendered it, as a write does)."""
        self.order_id = order_id
        self.read_renders = 0

    def check(self) -> None:
        if self.order_id is None:
            return
        public = f"ord_{self.order_id}"
        got = self.client.get(f"/v4.0/orders/{public}", headers=self.headers)
        listed = self.client.get(f"/v4.0/orders?orderIds={public}", headers=self.headers)
        assert got.status_code == 200 and listed.status_code == 200
        assert self.read_renders == 0, "a read rendered the order instead of answering from its rendition"
        with self.db.read() as session:
            version = session.execute(select(orders_t.c.version).where(orders_t.c.id == self.order_id)).scalar_one()
            stored = session.execute(select(renditions_t.c.version).where(
                renditions_t.c.order_id == self.order_id, renditions_t.c.format == translate.RENDITION_FORMAT)).scalar_one()
            fresh = orjson.loads(self.real_render(load_order_views(session, [self.order_id])[self.order_id]))
        assert stored == version, "the stored rendition is older than the order"
        assert got.json()["order"] == fresh
        assert listed.json()["orders"] == [fresh]
        order = fresh
        self.stages.append((order["status"]["stage"] if order["status"] else None,
                            tuple(order["status"]["details"].values()) if order["status"] else None,
                            tuple(s["status"] for s in order["shipments"])))
        self.checks += 1


@pytest.fixture
def probe(test_db, client, headers, monkeypatch) -> ReadProbe:
    return ReadProbe(test_db, client, headers, monkeypatch)


def test_every_pipeline_step_leaves_a_current_rendition(probe, client, headers, catalog, pipeline_factory,
                                                         image_server):
    pipeline = pipeline_factory(sandbox_lab_delay=timedelta(0))
    probe.watch(create(client, headers, order_body(f"{image_server.url}/photo.jpg")))
    pipeline.run(probe.order_id)
    probe.check()
    # The reads saw the order move through its documented stages, each from a stored rendition.
    details_seen = {details for _, details, _ in probe.stages}
    assert ("NotStarted",) * 5 in details_seen
    assert any(d[0] == "Complete" and d[1] == "NotStarted" for d in details_seen)  # downloaded, not yet prepared
    assert ("Complete",) * 5 in details_seen
    assert probe.stages[-1][0] == "Complete" and probe.stages[-1][2] == ("Shipped",)
    assert probe.checks >= 4


def test_failed_downloads_leave_current_renditions(probe, client, headers, catalog, pipeline, image_server):
    probe.watch(create(client, headers, order_body(f"{image_server.url}/missing.jpg")))
    pipeline.run(probe.order_id)
    probe.check()
    assert probe.stages[-1][1][0] == "Error"  # downloadAssets
    assert probe.checks >= 10  # one per attempt at least


def test_lab_reports_and_actions_leave_current_renditions(probe, client, headers, catalog, pipeline_factory,
                                                            image_server, settings, test_db):
    pipeline = pipeline_factory(sandbox_lab_delay=timedelta(hours=1))
    probe.watch(create(client, headers, order_body(f"{image_server.url}/photo.jpg")))
    pipeline.run(probe.order_id)
    public = f"ord_{probe.order_id}"
    actions = [
        ("updateMetadata", {"metadata": {"note": "gift"}}),
        ("updateShippingMethod", {"shippingMethod": "Express"}),
        ("updateRecipient", {"name": "Bea", "address": {"line1": "2 Low St", "postalOrZipCode": "AB1 2CD",
                                                         "countryCode": "GB", "townOrCity": "Town"}}),
    ]
    for action, body in actions:
        response = client.post(f"/v4.0/orders/{public}/actions/{action}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        probe.check()
    assert client.post(f"/sandbox/v1/orders/{public}/advance", json={"to": "shipped"},
                       headers=headers).status_code in (200, 202)
    pipeline.run(probe.order_id)
    probe.check()
    assert probe.stages[-1][0] == "Complete"
    assert probe.checks >= 5


def test_cancel_and_sandbox_controls_leave_current_renditions(probe, client, headers, catalog, image_server):
    probe.watch(create(client, headers, order_body(f"{image_server.url}/photo.jpg")))
    public = f"ord_{probe.order_id}"
    assert client.post(f"/sandbox/v1/orders/{public}/fail", json={"step": "labSubmission"},
                       headers=headers).status_code == 200
    probe.check()
    assert client.post(f"/v4.0/orders/{public}/actions/cancel", headers=headers).json()["outcome"] == "Cancelled"
    probe.check()
    assert probe.stages[-1][0] == "Cancelled"


def test_the_state_a_step_hands_on_is_the_state_the_database_holds(monkeypatch, client, headers, catalog,
                                                                    pipeline, image_server):
    """The worker's steps pass the refreshed order on instead of reading it again inside their
    write transaction; what they pass must be exactly what a read would find."""
    from printwork.core.labs import simulated as simulated_lab
    from printwork.core.orders.progress import load_state
    from printwork.core.process import pipeline as pipeline_module

    original = pipeline_module.refresh_status
    compared = []

    def checked(session, order_id, announcer):
        refreshed = original(session, order_id, announcer)
        assert refreshed == load_state(session, order_id)
        compared.append(refreshed.stage)
        return refreshed

    monkeypatch.setattr(pipeline_module, "refresh_status", checked)
    monkeypatch.setattr(simulated_lab, "refresh_status", checked)  # the sandbox lab's steps
    ok = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    missing = create(client, headers, order_body(f"{image_server.url}/missing.jpg"))
    rejected = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    assert client.post(f"/sandbox/v1/orders/ord_{rejected}/fail", json={"step": "labSubmission"},
                       headers=headers).status_code == 200
    for order_id in (ok, missing, rejected):
        pipeline.run(order_id)
    stages = {order_id: client.get(f"/v4.0/orders/ord_{order_id}", headers=headers).json()["order"]["status"]
              for order_id in (ok, missing, rejected)}
    assert stages[ok]["stage"] == "Complete"
    assert stages[missing]["details"]["downloadAssets"] == "Error"
    assert stages[rejected]["details"]["inProduction"] == "Error"
    assert len(compared) >= 15
