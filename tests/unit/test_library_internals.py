"""Nothing outside docmgmt/compat touches a private name of pyHanko, asn1crypto or eventsourcing.

An AST scan of the production packages. It flags, outside ``docmgmt/compat/``:

* importing a ``_``-prefixed name (or module) from one of those libraries;
* reading ``lib._name`` off a name imported from them;
* assigning to (or ``setattr``/``delattr`` on) an attribute of something imported from them
  (replacing a library function);
* in a class derived from one of their classes, calling, reading or overriding a
  ``_``-prefixed member that the library's classes define (``self._x``, ``super()._x``,
  ``def _x``); which members are the library's is read from the classes themselves.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("docmgmt", "api", "signing", "storage")
LIBRARIES = ("pyhanko", "pyhanko_certvalidator", "asn1crypto", "eventsourcing")
ALLOWED = ROOT / "docmgmt" / "compat"
# pyHanko's documented subclassing hooks, overridden in the signing adapter (which must not
# import docmgmt.compat); compat.install() still pins the pyHanko version they were written
# for. Each entry: file -> the findings it may have.
SUBCLASS_HOOKS = {
    "signing/appearance.py": [
        "_AnnexStamp overrides _render_inner_content",
        "_AnnexStamp uses _ensure_writer",
        "_CachedAnnexStamp uses _ensure_writer",
    ],
    "signing/devpki.py": ["_LoadedKeyTimeStamper overrides _sign_tst_info"],
}


def _is_library(module: str) -> bool:
    return module.split(".")[0] in LIBRARIES


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _library_privates(cls: type) -> set[str]:
    """The ``_``-prefixed members the library classes in ``cls``'s MRO define."""
    names: set[str] = set()
    for base in cls.__mro__:
        if _is_library(base.__module__):
            names.update(n for n in vars(base) if _private(n))
    return names


def _class_findings(module: object, node: ast.ClassDef) -> list[str]:
    cls = getattr(module, node.name, None)
    if not isinstance(cls, type):
        return []
    privates = _library_privates(cls)
    if not privates:
        return []
    found = []
    for item in ast.walk(node):
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in privates:
            found.append(f"{node.name} overrides {item.name}")
        if (isinstance(item, ast.Attribute) and item.attr in privates
                and isinstance(item.value, ast.Name | ast.Call)):
            value = item.value
            via_self = isinstance(value, ast.Name) and value.id in ("self", "cls")
            via_super = (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                         and value.func.id == "super")
            if via_self or via_super:
                found.append(f"{node.name} uses {item.attr} (line {item.lineno})")
    return found


def findings(path: Path) -> list[str]:
    """What ``path`` does with the libraries' private names (empty when nothing)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    imported: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append(f"imports {alias.name}")
                    imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and _is_library(node.module):
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"imports from {node.module}")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"imports {alias.name} from {node.module}")
                imported.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and _root_name(node.value) in imported):
            found.append(f"reads {ast.unparse(node)} (line {node.lineno})")
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        for target in targets:
            if isinstance(target, ast.Attribute) and _root_name(target) in imported:
                found.append(f"replaces {ast.unparse(target)} (line {node.lineno})")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("setattr", "delattr") and node.args
                and _root_name(node.args[0]) in imported):
            found.append(f"{node.func.id} on {ast.unparse(node.args[0])} (line {node.lineno})")
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if classes and imported:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(name.removesuffix(".__init__"))
        for node in classes:
            found.extend(_class_findings(module, node))
    return found


def production_files() -> list[Path]:
    """Every production module outside docmgmt/compat."""
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                  if ALLOWED not in p.parents)


def test_nothing_outside_compat_touches_library_internals() -> None:
    """The overrides and private calls all live in docmgmt/compat."""
    report = {str(p.relative_to(ROOT)): [re.sub(r" \(line \d+\)$", "", x) for x in f]
              for p in production_files() if (f := findings(p))}
    assert report == SUBCLASS_HOOKS


@pytest.mark.parametrize("source", [
    "from eventsourcing.persistence import _private_helper\n",
    "import pyhanko.pdf_utils._saslprep\n",
    "from asn1crypto import x509\nx509.Name.hashable = property(len)\n",
    "from pyhanko.sign import general\ngeneral.match_issuer_serial = print\n",
    "from pyhanko.sign import general\nsetattr(general, 'match_issuer_serial', print)\n",
    "from pyhanko.pdf_utils import generic\ngeneric._internal(1)\n",
])
def test_the_scan_sees_each_kind_of_override(tmp_path: Path, source: str) -> None:
    """Each pattern the scan guards against is reported (a scan that cannot fail is useless)."""
    path = tmp_path / "sample.py"
    path.write_text(source, encoding="utf-8")
    assert findings(path)


def test_the_scan_sees_a_private_member_of_a_library_class() -> None:
    """A subclass calling or overriding a library class's private member is reported."""
    from tests.unit import library_internals_sample as sample

    tree = ast.parse(Path(sample.__file__).read_text(encoding="utf-8"))
    assert _class_findings(sample, tree.body[-1]) == [
        "Tracking overrides _insert_tracking", "Tracking uses _insert_tracking (line 14)"]
