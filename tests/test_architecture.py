"""One core, many faces: the core imports no face and speaks none of their wire words."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "printwork"
CORE = sorted((SRC / "core").rglob("*.py"))
# Wire words of a face that, once found in core/'s strings, mean the core is shaped like that
# face again: event types, outcomes, issue codes and field paths of v4.
FACE_WORDS = ["com.prodigi", "order.items.", "order.shipments.", "CreatedWithIssues", "AlreadyExists",
              "PartiallyUpdated", "FailedToCancel", "RequiresPaymentAuthorisation", "shippingMethod",
              "recipient.address.countryCode", "destinationCountryCode", "recipientCost", "UsSalesTaxWarning",
              "postalOrZipCode", "townOrCity", "stateOrCounty", "phoneNumber"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [*CORE, SRC / "jobs.py", SRC / "db.py", SRC / "group_commit.py"],
                         ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_and_the_workers_import_no_face(path):
    faces = {m for m in imported_modules(path) if m.startswith(("printwork.api", "printwork.cli"))}
    assert not faces, f"{path.relative_to(SRC)} imports {sorted(faces)}"


def test_faces_never_import_each_other():
    api = SRC / "api"
    faces = [d.name for d in api.iterdir() if d.is_dir() and (d / "__init__.py").exists()]
    for face in faces:
        for path in (api / face).rglob("*.py"):
            others = {m for m in imported_modules(path)
                      if m.startswith("printwork.api.") and m.split(".")[2] in faces and m.split(".")[2] != face}
            assert not others, f"{path.relative_to(SRC)} imports {sorted(others)}"


def string_literals(path: Path) -> list[tuple[int, str]]:
    """The module's string constants, docstrings left out (they may well cite a face's words)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("word", FACE_WORDS)
def test_no_face_word_is_left_in_the_core(word):
    found = [f"{p.relative_to(SRC)}:{line}" for p in CORE for line, text in string_literals(p) if word in text]
    assert not found, f"{word!r} in {found}"


# The order process drives orders; orders, labs and callbacks never reach back into it, so each
# can be read (and changed) without the pipeline.
BELOW_THE_PROCESS = ("orders", "labs", "callbacks", "catalog", "pricing", "merchants", "assets")


@pytest.mark.parametrize("package", BELOW_THE_PROCESS)
def test_the_order_process_is_imported_only_from_above(package):
    found = [f"{path.relative_to(SRC)} imports {module}" for path in sorted((SRC / "core" / package).rglob("*.py"))
             for module in imported_modules(path) if module.startswith("printwork.core.process")]
    assert not found, found


def test_the_simulated_lab_is_a_lab_not_a_pipeline_step():
    pipeline = (SRC / "core" / "process" / "pipeline.py").read_text()
    assert "mark_shipped" not in pipeline and "SBX" not in pipeline
