"""The `printwork` command: serve, db, merchants, catalog."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column, Table

from printwork import logs, metrics
from printwork.config import get_settings
from printwork.core.catalog.document import CatalogDocumentError, parse_catalog_document
from printwork.core.catalog.service import export_catalog, import_catalog
from printwork.core.errors import CoreError
from printwork.core.merchants import service as merchants_service
from printwork.core.users import service as users
from printwork.db import Database
from printwork.migrations import runner

app = typer.Typer(help="Printwork: print-on-demand fulfilment speaking the Prodigi Print API v4.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
merchants_app = typer.Typer(help="Merchants and their API keys.", no_args_is_help=True)
catalog_app = typer.Typer(help="The catalogue: products, labs, shipping rates, exchange rates.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(merchants_app, name="merchants")
app.add_typer(catalog_app, name="catalog")
labs_app = typer.Typer(help="Labs' keys for the lab-facing API.", no_args_is_help=True)
orders_app = typer.Typer(help="Move an order along by hand.", no_args_is_help=True)
app.add_typer(labs_app, name="labs")
app.add_typer(orders_app, name="orders")
callbacks_app = typer.Typer(help="Callbacks: test a receiver, follow deliveries.", no_args_is_help=True)
app.add_typer(callbacks_app, name="callbacks")

err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _core_refusal_exits(exit_code: int = 1) -> Iterator[None]:
    """What the core refuses is said in red, and the command exits with exit_code."""
    try:
        yield
    except CoreError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(exit_code) from None


def _database() -> Database:
    return Database(get_settings().resolved_database_url)


def _require_schema() -> None:
    """The embedded database is migrated here, as `serve` does; a database server is never
    changed behind its operator's back: a command that finds it behind says so and stops."""
    settings = get_settings()
    url = settings.resolved_database_url
    if runner.is_up_to_date(url):
        return
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        runner.upgrade(url)
        return
    err.print("[red]The database's schema is behind this Printwork: run `printwork db upgrade` first.[/red]")
    raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[bool | None, typer.Option(
        "--workers/--no-workers", help="Also run the order process here (default: PRINTWORK_EMBEDDED_WORKERS).",
    )] = None,
    processes: Annotated[int, typer.Option(
        min=1, help="Server processes sharing the port (for PostgreSQL); the workers are one process beside them.",
    )] = 1,
) -> None:
    """Migrate, seed the demo data on first start, and serve the API (and the workers) in the foreground.

    The workers run in a child process whose downloads and image work have a lower CPU priority
    (PRINTWORK_EMBEDDED_WORKER_NICE), so a backlog of image work never starves the API's
    requests; it stops with the server."""
    import uvicorn

    from printwork.api.app import create_app
    from printwork.bootstrap import prepare

    settings = get_settings()
    logs.configure(settings.log_format)
    database = Database(settings.resolved_database_url)
    prepared = prepare(settings, database)
    host = host or settings.host
    port = port or settings.port
    # Absolute URLs the workers write (thumbnails) name the address actually served.
    settings = settings.model_copy(update={"host": host, "port": port})
    err.print(f"[bold]Printwork[/bold] serving on http://{host}:{port}  (data: {settings.data_dir.resolve()})")
    if prepared.catalog_loaded:
        err.print("Loaded the demo catalogue.")
    if prepared.demo_key:
        err.print("Demo merchant sandbox API key (send it as the X-API-Key header):")
        print(prepared.demo_key, flush=True)
        err.print("A first order, of a sample picture Printwork serves itself (Complete within seconds):")
        err.print(first_order_curl(settings.resolved_public_base_url, prepared.demo_key), markup=False, highlight=False)
    if prepared.demo_sign_in:
        demo = prepared.demo_sign_in
        err.print(f"Dashboard: {settings.resolved_public_base_url}/dashboard/  sign in as {demo.merchant_user} "
                  f"(Demo Shop) or {demo.operator} (operator), password {demo.password}", markup=False,
                  highlight=False)
    run_workers = settings.embedded_workers if workers is None else workers
    server_options = {"host": host, "port": port, "loop": "uvloop", "http": "httptools", "access_log": False,
                      "log_level": "info", "log_config": logs.uvicorn_log_config(settings.log_format)}
    # The server's own processes and the worker child read what this command decided (the
    # address the workers' absolute URLs name) from the environment.
    os.environ.update({"PRINTWORK_HOST": host, "PRINTWORK_PORT": str(port)})
    # Every process this command starts counts into one directory, which /metrics adds up.
    metrics.prepare_multiprocess_directory(Path(os.environ.get(metrics.MULTIPROC_ENV) or settings.data_dir / "metrics"))
    database.dispose()
    worker = _start_embedded_worker(settings) if run_workers else None
    try:
        if processes == 1:
            uvicorn.run(create_app(settings, Database(settings.resolved_database_url)), **server_options)
            return
        if database.is_sqlite:
            err.print("[yellow]SQLite has one writer at a time: more processes serve more reads, but writes "
                      "still take turns. Use PostgreSQL to scale writes.[/yellow]")
        err.print(f"Serving from {processes} processes.")
        uvicorn.run("printwork.api.app:create_app_from_environment", factory=True, workers=processes,
                    **server_options)
    finally:
        if worker is not None:
            _stop_embedded_worker(worker)


def first_order_curl(base_url: str, key: str) -> str:
    """A ready-to-paste sandbox order of one of the shipped sample pictures."""
    from printwork.core.assets.samples import sample_url

    body = json.dumps({
        "shippingMethod": "Budget",
        "recipient": {"name": "Mr Testy McTestface",
                      "address": {"line1": "14 test place", "postalOrZipCode": "12345", "countryCode": "US",
                                  "townOrCity": "somewhere"}},
        "items": [{"sku": "GLOBAL-CAN-10X10", "copies": 1, "attributes": {"wrap": "ImageWrap"},
                   "assets": [{"printArea": "default", "url": sample_url(base_url, "landscape.jpg")}]}],
    })
    return (f"curl -s {base_url}/v4.0/orders -H 'X-API-Key: {key}' -H 'Content-Type: application/json' "
            f"-d '{body}'")


def _start_embedded_worker(settings):
    """`printwork worker` as a child process (its slow work niced) that ends when this process does."""
    import subprocess

    command = [sys.executable, "-m", "printwork", "worker", "--threads", str(settings.worker_threads),
               "--slow-work-nice", str(settings.embedded_worker_nice), "--parent-pid", str(os.getpid())]
    child = subprocess.Popen(command, env=os.environ.copy())
    err.print(f"Order process running beside the server (pid {child.pid}, {settings.worker_threads} job thread(s), "
              f"downloads and image work at nice +{settings.embedded_worker_nice}).")
    return child


def _stop_embedded_worker(child) -> None:
    import signal
    import subprocess

    if child.poll() is None:
        child.send_signal(signal.SIGTERM)  # the worker lets running jobs finish
        try:
            child.wait(timeout=40)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the Alembic migrations."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runner.upgrade(settings.resolved_database_url, revision)
    err.print(f"Database at revision {revision}.")


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="A new file to write the backup to.")],
) -> None:
    """Copy the embedded SQLite database to FILE while Printwork keeps running (consistent, checked).

    Files (originals, print files, thumbnails) are not in it: see docs/deployment.md, "Backups"."""
    from printwork.backup import BackupRefused, backup

    settings = get_settings()
    try:
        with err.status(f"Copying {settings.resolved_database_url.removeprefix('sqlite:///')}…"):
            summary = backup(settings.resolved_database_url, file)
    except BackupRefused as exc:
        err.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    err.print(f"Backed up {summary.orders} orders ({summary.bytes / 1_048_576:.1f} MiB, schema {summary.schema_revision}) "
              f"to {summary.path} in {summary.seconds:.1f}s; integrity check ok.", highlight=False)


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup made by `printwork backup`.")],
) -> None:
    """Replace the embedded SQLite database with a backup; every Printwork process must be stopped.

    The embedded job queue is emptied too: on the next start the reconciler re-drives whatever
    the restored orders still have to do. A backup from an older Printwork is migrated by `serve`."""
    from printwork.backup import BackupRefused, restore

    settings = get_settings()
    queue_file = None if settings.queue_url else settings.data_dir / "queue.db"
    try:
        with err.status(f"Restoring {file}…"):
            summary = restore(file, settings.resolved_database_url, queue_file)
    except BackupRefused as exc:
        err.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    err.print(f"Restored {summary.orders} orders (schema {summary.schema_revision}) into {summary.path}.",
              highlight=False)
    if settings.queue_url:
        err.print("The Redis queue was left as it is: its jobs reload their orders by id, and the reconciler "
                  "re-drives what the restored database says is due.", highlight=False)


@merchants_app.command("create")
def merchants_create(
    name: Annotated[str, typer.Argument(help="The merchant's name; an existing merchant gets another key.")],
    environment: Annotated[str, typer.Option("--environment", "-e", help="sandbox or live.")] = "sandbox",
    currency: Annotated[str | None, typer.Option(help="Billing currency (ISO 4217).")] = None,
) -> None:
    """Create a merchant (or add a key to one) and print the new API key, once, as the last line."""
    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            issued = merchants_service.create_merchant_key(session, name, environment, currency)
    err.print(f"New {issued.environment} key for merchant {issued.merchant_name!r} (id {issued.merchant_id}).")
    err.print("It is shown only now; Printwork keeps only its hash.")
    print(issued.key)


@merchants_app.command("list")
def merchants_list() -> None:
    """List merchants and their keys (prefixes only)."""
    _require_schema()
    with _database().read() as session:
        rows = merchants_service.list_merchants(session)
    table = Table("id", "name", "currency", "keys")
    for m in rows:
        keys = "\n".join(
            f"{k.prefix}… {k.environment} {'revoked ' + k.revoked_at.isoformat(timespec='seconds') if k.revoked_at else 'active'}"
            for k in m.keys
        )
        table.add_row(str(m.id), m.name, m.billing_currency, keys or "-")
    Console().print(table)


@merchants_app.command("revoke-key")
def merchants_revoke_key(key: Annotated[str, typer.Argument(help="The whole key, or the prefix `list` shows.")]) -> None:
    """Revoke an API key; requests with it get 401 from then on."""
    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            merchants_service.revoke_key(session, key)
    err.print("Key revoked.")


def _read_document(path: Path) -> object:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


@catalog_app.command("import")
def catalog_import(file: Annotated[Path, typer.Argument(help="A catalogue document, .json or .yaml.")]) -> None:
    """Replace the catalogue with FILE; nothing changes unless the whole file is valid."""
    _require_schema()
    try:
        raw = _read_document(file)
    except FileNotFoundError:
        err.print(f"[red]No such file: {file}[/red]")
        raise typer.Exit(1) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        err.print(f"[red]{file} is not valid JSON/YAML: {exc}[/red]")
        raise typer.Exit(1) from None
    try:
        document = parse_catalog_document(raw)
    except CatalogDocumentError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    total = len(document.products) + len(document.labs) + 1
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), console=err) as bar:
        task = bar.add_task("importing", total=total)

        def step(label: str) -> None:
            bar.update(task, advance=1, description=label)

        with _database().transaction() as session:
            revision = import_catalog(session, document, step)
    err.print(
        f"Imported {len(document.products)} products and {len(document.labs)} labs (catalogue revision {revision})."
    )


@catalog_app.command("export")
def catalog_export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout if absent.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Write the catalogue as a document that `catalog import` accepts."""
    _require_schema()
    with _database().read() as session:
        document = export_catalog(session)
    if fmt not in ("yaml", "json"):
        err.print("[red]--format must be yaml or json[/red]")
        raise typer.Exit(2)
    text = json.dumps(document, indent=2) + "\n" if fmt == "json" else yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"Wrote {output}.")


@app.command()
def worker(
    threads: Annotated[int | None, typer.Option(help="Job threads (default: PRINTWORK_WORKER_THREADS).")] = None,
    slow_work_nice: Annotated[int, typer.Option(
        min=0, max=19, help="Run downloads and image work this much lower in CPU priority than the rest.")] = 0,
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="Stop when this process has gone.")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve this worker's own /metrics on this port (PRINTWORK_HOST's address), for a worker on a host "
             "of its own; under `printwork serve` the server's /metrics already includes its workers.")] = None,
) -> None:
    """Run the order process (job threads and the reconciler) until interrupted."""
    import signal
    import threading

    from printwork.api import faces
    from printwork.jobs import JobQueue, Workers

    _require_schema()
    settings = get_settings()
    logs.configure(settings.log_format)
    database = _database()
    if threads:
        settings = settings.model_copy(update={"worker_threads": threads})
    jobs = JobQueue(settings, database, faces.wire(database, settings.resolved_public_base_url), slow_work_nice)
    workers = Workers(jobs, settings.worker_threads)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: workers.request_stop())
    if parent_pid is not None:
        # `printwork serve`'s child: a server killed outright must not leave its workers behind.
        def watch_parent() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            workers.request_stop()

        threading.Thread(target=watch_parent, name="printwork-parent-watch", daemon=True).start()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        metrics.instruments()  # its families show from the start, before the first job
        start_http_server(metrics_port, addr=settings.host)
        err.print(f"Worker metrics on http://{settings.host}:{metrics_port}/metrics")
    queue = settings.queue_url or str(settings.data_dir / "queue.db")
    err.print(f"[bold]Printwork worker[/bold]: {settings.worker_threads} thread(s), queue {queue}")
    workers.start()
    workers.wait()
    err.print("Stopping: letting running jobs finish…")
    workers.stop()


@merchants_app.command("settings")
def merchants_settings(
    name: Annotated[str, typer.Argument(help="The merchant's name.")],
    pause_minutes: Annotated[float | None, typer.Option(help="Hold new orders this long before fulfilment.")] = None,
    pause_indefinite: Annotated[bool, typer.Option(help="Hold new orders until each is released.")] = False,
    no_pause: Annotated[bool, typer.Option(help="Start new orders at once.")] = False,
    pays_per_order: Annotated[bool | None, typer.Option("--pays-per-order/--invoiced",
                                                         help="Each order waits for its payment to be authorised.")] = None,
    callback_url: Annotated[str | None, typer.Option(help="Default callback URL ('' to remove).")] = None,
) -> None:
    """Show or change a merchant's order settings (pause window, payment)."""
    _require_schema()
    if sum(bool(x) for x in (pause_minutes is not None, pause_indefinite, no_pause)) > 1:
        err.print("[red]Give at most one of --pause-minutes, --pause-indefinite, --no-pause.[/red]")
        raise typer.Exit(2)
    if callback_url and not callback_url.lower().startswith(("http://", "https://")):
        err.print("[red]--callback-url must be an http(s) URL.[/red]")
        raise typer.Exit(2)
    if pause_minutes is not None and pause_minutes <= 0:
        err.print("[red]--pause-minutes must be more than 0 (use --no-pause to turn the window off).[/red]")
        raise typer.Exit(2)
    with _core_refusal_exits():
        with _database().transaction() as session:
            terms = merchants_service.update_settings(
                session, name,
                pause_seconds=None if pause_minutes is None else round(pause_minutes * 60),
                pause_indefinite=pause_indefinite, no_pause=no_pause, pays_per_order=pays_per_order,
                callback_url=callback_url,
            )
    window = "until released" if terms.pause_indefinite else (
        f"{terms.pause_seconds / 60:g} minute(s)" if terms.pause_seconds else "none")
    print(f"{name}: pause window {window}; {'pays per order' if terms.pays_per_order else 'invoiced'}; "
          f"callbacks to {terms.callback_url or 'each order’s callbackUrl only'}")


@merchants_app.command("callback-secret")
def merchants_callback_secret(
    name: Annotated[str, typer.Argument(help="The merchant's name.")],
    rotate: Annotated[bool, typer.Option(help="Replace the secret; receivers must switch to the new one.")] = False,
) -> None:
    """Print the secret the merchant's callbacks are signed with (Standard Webhooks), as the last line."""
    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            secret = merchants_service.callback_secret(session, name, rotate=rotate)
    print(secret)


@merchants_app.command("credentials")
def merchants_credentials(
    name: Annotated[str, typer.Argument(help="The merchant's name.")],
    environment: Annotated[str, typer.Option(help="sandbox or live.")] = "sandbox",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    rotate_secret: Annotated[bool, typer.Option(help="Replace the Print API secret (printed once).")] = False,
) -> None:
    """The merchant's id (with a v4 API key, the Pwinty v3.0 credentials) and its legacy Print API
    credentials, made on first use; the secret is printed only when made or rotated."""
    from printwork.core.merchants.credentials import merchant_credentials

    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            credentials = merchant_credentials(session, name, environment, rotate_secret=rotate_secret)
    if as_json:
        print(json.dumps(credentials.document()))
        return
    api = credentials.print_api
    table = _folding_table("Credential", "Value", title=f"{name} ({environment})")
    table.add_row("Merchant id (X-Pwinty-MerchantId)", str(credentials.merchant_id))
    table.add_row("Pwinty REST API key (X-Pwinty-REST-API-Key)", "any of the merchant's v4 API keys")
    table.add_row("Print API key", api.api_key)
    table.add_row("Print API secret", api.api_secret or "(shown only when made; --rotate-secret makes a new one)")
    table.add_row("Print API client code", api.client_code)
    table.add_row("Print API source codes", ", ".join(api.source_codes))
    Console(soft_wrap=True).print(table)


@labs_app.command("create-key")
def labs_create_key(lab_code: Annotated[str, typer.Argument(help="The lab's code in the catalogue.")]) -> None:
    """Issue a key for the lab-facing API and print it, once, as the last line."""
    from sqlalchemy import select

    from printwork.core.catalog.models import Lab
    from printwork.core.labs.service import create_lab_key

    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            known = set(session.execute(select(Lab.code)).scalars())
            issued = create_lab_key(session, lab_code, known)
    err.print(f"New key for lab {issued.lab_code}; it is shown only now.")
    print(issued.key)


@labs_app.command("revoke-key")
def labs_revoke_key(prefix: Annotated[str, typer.Argument(help="The key's first 14 characters, or the whole key.")]) -> None:
    from printwork.core.labs.service import revoke_lab_key

    _require_schema()
    with _database().transaction() as session:
        count = revoke_lab_key(session, prefix[:14])
    if not count:
        err.print("[red]No active lab key with that prefix.[/red]")
        raise typer.Exit(1)
    err.print("Lab key revoked.")


def _order_command(order: str, change) -> None:
    from printwork.api import faces
    from printwork.core.orders.domain import parse_order_id
    from printwork.jobs import JobQueue

    _require_schema()
    order_id = parse_order_id(order)
    if order_id is None:
        err.print(f"[red]{order!r} is not an order id (ord_…).[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    database = _database()
    announcer = faces.wire(database, settings.resolved_public_base_url)
    jobs = JobQueue(settings, database, announcer)  # hears of the callbacks the change writes, after the commit
    try:
        with database.transaction() as session:
            change(session, order_id, settings, announcer)
    except CoreError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        jobs.close()
    jobs.orders_due([order_id])


@orders_app.command("authorise-payment")
def orders_authorise(order: Annotated[str, typer.Argument(help="The order id, ord_…")]) -> None:
    """Record that an order's payment is authorised; it goes into fulfilment."""
    from printwork.core.process import controls

    _order_command(order, lambda session, order_id, _settings, _announcer: controls.authorise_payment(session, order_id))
    err.print(f"{order}: payment authorised; fulfilment starts.")


@orders_app.command("release")
def orders_release(order: Annotated[str, typer.Argument(help="The order id, ord_…")]) -> None:
    """End an order's pause window now."""
    from printwork.core.catalog.service import CatalogCache
    from printwork.core.process import controls

    _order_command(order, lambda session, order_id, settings, announcer: controls.release_hold(
        session, order_id, CatalogCache().get(session), settings.resolved_public_base_url, announcer))
    err.print(f"{order}: released from its pause window.")


@callbacks_app.command("send-test")
def callbacks_send_test(
    merchant: Annotated[str, typer.Argument(help="The merchant's name.")],
    url: Annotated[str | None, typer.Option(help="Send here instead of the merchant's default callback URL.")] = None,
) -> None:
    """Send a signed sample of every kind of callback to a receiver and show what it answered.

    The samples carry a made-up order, ord_0, never a real one; nothing is retried or logged."""
    from printwork.api import faces
    from printwork.core.callbacks.testing import callback_target, send_test_callbacks

    _require_schema()
    settings = get_settings()
    database = _database()
    with _core_refusal_exits(exit_code=2):
        with database.transaction() as session:
            target = callback_target(session, merchant, url)
    face, render_order = faces.callback_rendering(settings.resolved_public_base_url)
    err.print(f"Sending {merchant}'s sample callbacks to {target.url}, signed with its secret "
              f"(`printwork merchants callback-secret {merchant}`)…")
    deliveries = send_test_callbacks(target, face, render_order, allow_private_urls=settings.allow_private_urls,
                                     timeout=settings.callback_timeout_seconds)
    table = _folding_table("Event type", "webhook-id", "Answer", "ms", "Body or error")
    for delivery in deliveries:
        sent = delivery.sent
        answer = f"[green]{sent.status_code}[/green]" if sent.delivered else f"[red]{sent.status_code or '—'}[/red]"
        detail = sent.error if sent.error and not sent.delivered else sent.answer.decode("utf-8", "replace")
        table.add_row(delivery.event_type, delivery.event_id, answer, str(sent.duration_ms), detail.strip()[:120])
    Console(soft_wrap=True).print(table)
    refused = [d for d in deliveries if not d.sent.delivered]
    if any("non-public address" in (d.sent.error or "") for d in refused):
        err.print("Private and loopback addresses are refused unless PRINTWORK_ALLOW_PRIVATE_URLS=true "
                  "(development only); real deliveries follow the same rule.")
    if refused:
        err.print(f"[red]{len(refused)} of {len(deliveries)} were not accepted (a 2xx answer).[/red]")
        raise typer.Exit(1)
    err.print(f"[green]All {len(deliveries)} accepted.[/green]")


def _folding_table(*headers: str, title: str | None = None) -> Table:
    """A table that folds long cells onto more lines rather than cutting them (ids must stay whole to copy)."""
    return Table(*(Column(header, overflow="fold") for header in headers), title=title)


def _deliveries_table(lines) -> Table:
    table = _folding_table("Time", "Order", "Env", "Event type", "Status", "Tries", "Last answer", "ms",
                           "Next try / error", title="Callbacks, newest first (Ctrl-C to stop)")
    for line in lines:
        last = line.last_attempt
        status = {"Delivered": "[green]Delivered[/green]", "Failed": "[red]Failed[/red]"}.get(line.status, line.status)
        answer = "—" if last is None else str(last.status_code or "no answer")
        note = (last.error or "") if last is not None and line.status != "Delivered" else ""
        if line.status == "Pending" and line.next_attempt_at is not None:
            note = f"next {line.next_attempt_at:%H:%M:%S}" + (f"; {note}" if note else "")
        table.add_row(f"{line.occurred_at:%Y-%m-%d %H:%M:%S}", f"ord_{line.order_id}", line.environment,
                      line.event_type, status, str(line.attempts), answer,
                      "" if last is None else str(last.duration_ms), note[:80])
    return table


@callbacks_app.command("tail")
def callbacks_tail(
    merchant: Annotated[str, typer.Argument(help="The merchant's name.")],
    environment: Annotated[str | None, typer.Option(help="sandbox or live (default: both).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many of the newest callbacks to show.")] = 20,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes.")] = 1.0,
    once: Annotated[bool, typer.Option(help="Print the table once and stop.")] = False,
) -> None:
    """Follow a merchant's callback deliveries as they happen (status, tries, the receiver's answers)."""
    from rich.live import Live

    from printwork.core.callbacks.service import merchant_id_named, recent_deliveries

    if environment not in (None, "sandbox", "live"):
        err.print("[red]--environment is sandbox or live.[/red]")
        raise typer.Exit(2)
    _require_schema()
    database = _database()
    with _core_refusal_exits(exit_code=2):
        with database.read() as session:
            merchant_id = merchant_id_named(session, merchant)

    def table() -> Table:
        with database.read() as session:
            return _deliveries_table(recent_deliveries(session, merchant_id, environment=environment, limit=limit))

    console = Console(soft_wrap=True)
    if once:
        console.print(table())
        return
    try:
        with Live(table(), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(table(), refresh=True)
    except KeyboardInterrupt:
        pass

# --- dashboard users ---------------------------------------------------------------------

users_app = typer.Typer(help="Dashboard users: a merchant's people, or operators.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _password_from_stdin(password_stdin: bool) -> str:
    if not password_stdin:
        err.print("[red]Give --password-stdin and the password on standard input (it never goes on the command "
                  "line, where other users can see it).[/red]")
        raise typer.Exit(2)
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email, which they sign in with.")],
    merchant: Annotated[str | None, typer.Option("--merchant", help="The merchant the user belongs to.")] = None,
    operator: Annotated[bool, typer.Option("--operator", help="An operator of this Printwork.")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input.")] = False,
) -> None:
    """Create a dashboard user. The password is read from standard input, never from the command line."""
    _require_schema()
    if operator == (merchant is not None):
        err.print("[red]Give either --merchant NAME or --operator.[/red]")
        raise typer.Exit(2)
    password = _password_from_stdin(password_stdin)
    with _core_refusal_exits():
        with _database().transaction() as session:
            made = users.create_user(session, email, password, merchant_name=merchant, operator=operator)
    err.print(f"Created {made.email} ({'operator' if made.is_operator else made.merchant_name}).")


@users_app.command("list")
def users_list() -> None:
    """List dashboard users."""
    _require_schema()
    with _database().read() as session:
        rows = users.list_users(session)
    table = Table("email", "role", "created", "last sign-in", "state")
    for u in rows:
        table.add_row(u.email, "operator" if u.is_operator else f"merchant {u.merchant_name}",
                      u.created_at.isoformat(timespec="seconds"),
                      u.last_sign_in_at.isoformat(timespec="seconds") if u.last_sign_in_at else "-",
                      "disabled" if u.disabled_at else "active")
    # Piped output keeps each user on one line, whole, for grep.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the new password from standard input.")] = False,
) -> None:
    """Give a user a new password (read from standard input); it lifts a sign-in lock and ends their sessions."""
    _require_schema()
    password = _password_from_stdin(password_stdin)
    with _core_refusal_exits():
        with _database().transaction() as session:
            users.set_password(session, email, password)
    err.print(f"Set a new password for {email}.")


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Disable a user: they cannot sign in, and their sessions end at once."""
    _require_schema()
    with _core_refusal_exits():
        with _database().transaction() as session:
            users.disable_user(session, email)
    err.print(f"Disabled {email}.")


if __name__ == "__main__":
    app()
