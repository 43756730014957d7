"""Active content in a PDF: what a viewer would run, send or open, found within a budget.

What is refused and what is allowed, and why: docs/signing-notes.md.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import PdfTooComplexError

# A value is visited once per reference (twice at most: as automatic and as clicked); the
# budget is against crafted object graphs, far above real files (docs/signing-notes.md).
MAX_VISITS = 2_000_000
MAX_FINDINGS = 20

REFUSED_ACTIONS = {
    "/JavaScript": "JavaScript action",
    "/Launch": "Launch action (starts a program or opens a file)",
    "/SubmitForm": "SubmitForm action (sends form data away)",
    "/ImportData": "ImportData action (loads data from a file)",
    "/GoToR": "GoToR action (opens another file)",
    "/GoToE": "GoToE action (opens an embedded file)",
    "/Rendition": "Rendition action (plays media, may run JavaScript)",
    "/RichMediaExecute": "RichMediaExecute action",
}
AUTOMATIC_ALLOWED = frozenset({"/GoTo"})
REFUSED_ANNOTATIONS = {
    "/FileAttachment": "FileAttachment annotation (embedded file)",
    "/RichMedia": "RichMedia annotation (embedded player)",
    "/Screen": "Screen annotation (media)",
    "/Movie": "Movie annotation",
    "/Sound": "Sound annotation",
    "/3D": "3D annotation (may carry JavaScript)",
}
REFUSED_KEYS = {
    "/JS": "JavaScript (/JS)",
    "/JavaScript": "JavaScript name tree",
    "/EmbeddedFiles": "embedded files name tree",
    "/EF": "embedded file (/EF)",
    "/XFA": "XFA form",
}


def _resolve(value: Any) -> Any:
    # pyHanko's get_object is untyped; Any is what it gives in fact.
    return value.get_object()


def _name(d: generic.DictionaryObject, key: str) -> str | None:
    raw = dict.get(d, key)
    if raw is None:
        return None
    value = raw.get_object()
    return str(value) if isinstance(value, generic.NameObject) else None


def _path(parent: str, key: object) -> str:
    path = f"{parent}/{str(key).lstrip('/')}" if isinstance(key, str) else f"{parent}[{key}]"
    return path if len(path) <= 160 else "…" + path[-159:]


class _Walk:
    """One budgeted, iterative walk; ``automatic`` marks values a viewer acts on unasked."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.visits = 0
        self.seen: set[tuple[generic.Reference, bool]] = set()
        self.found: list[str] = []
        self.stack: list[tuple[Any, str, bool]] = []

    def push(self, value: Any, path: str, automatic: bool) -> None:
        self.visits += 1
        if self.visits > self.budget:
            raise PdfTooComplexError(
                f"the PDF has too many objects to inspect (more than {self.budget} visits)"
            )
        self.stack.append((value, path, automatic))

    def note(self, what: str, path: str) -> None:
        finding = f"{what} at {path}"
        if finding not in self.found and len(self.found) < MAX_FINDINGS:
            self.found.append(finding)

    def run(self, root: Any) -> list[str]:
        self.push(root, "/Root", False)
        while self.stack:
            value, path, automatic = self.stack.pop()
            if isinstance(value, generic.IndirectObject):
                mark = (value.reference, automatic)
                if mark in self.seen:
                    continue
                self.seen.add(mark)
                value = _resolve(value)
            if isinstance(value, generic.DictionaryObject):
                self.dictionary(value, path, automatic)
            elif isinstance(value, generic.ArrayObject):
                for index in range(len(value)):
                    self.push(value.raw_get(index), _path(path, index), automatic)
        return self.found

    def dictionary(self, d: generic.DictionaryObject, path: str, automatic: bool) -> None:
        action = _name(d, "/S")
        if action in REFUSED_ACTIONS:
            self.note(REFUSED_ACTIONS[action], path)
        elif automatic and action is not None and action not in AUTOMATIC_ALLOWED:
            self.note(f"{action} action run automatically", path)
        subtype = _name(d, "/Subtype")
        if subtype in REFUSED_ANNOTATIONS and _name(d, "/Type") in (None, "/Annot"):
            self.note(REFUSED_ANNOTATIONS[subtype], path)
        if _name(d, "/Type") == "/EmbeddedFile":
            self.note("embedded file stream", path)
        is_trigger_table = path.endswith("/AA")
        for key in d:
            if key in REFUSED_KEYS:
                self.note(REFUSED_KEYS[key], path)
            child_automatic = (key == "/OpenAction" or is_trigger_table
                               or (automatic and key == "/Next"))
            self.push(d.raw_get(key), _path(path, key), child_automatic)


def find_active_content(reader: PdfFileReader, *, budget: int | None = None) -> list[str]:
    """What in the document a viewer would run, send or open, as "what at /Root/path" lines.

    Raises PdfTooComplexError when the object graph needs more than ``budget`` visits.
    """
    walk = _Walk(MAX_VISITS if budget is None else budget)
    return walk.run(reader.trailer_view.raw_get("/Root"))
