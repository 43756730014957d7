"""The cost of pyHanko's diff analysis of a PDF, counted within a budget before it runs.

Why a crafted PDF can make that analysis exponential: docs/signing-notes.md.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import PdfTooComplexError

# A crafted graph without cycles is refused at once by a linear lower bound (_lower_bound);
# the step-by-step count below it costs 1-4 us a step, so this budget bounds the rest (graphs
# whose cycles multiply paths) to 0.5-2 s on 2 loaded cores, above what real documents need
# (a 1,000-page PDF: 8,010 steps; pyHanko itself keeps a set of paths per object).
MAX_PATHS = 500_000

# pyHanko maps paths recursively, about three frames a level: a chain of 330 objects
# (/Next, /N, ...) already ends in RecursionError under the default limit of 1,000, and
# validation runs deeper in the stack than that. Refused at intake instead of failing at seal.
MAX_PATH_DEPTH = 200

_EXIT = object()


def _resolve(value: Any) -> Any:
    return value.get_object()


def _fetch(reader: Any, ref: Any) -> Any:
    return reader.get_object(ref)


def _page_tree(reader: PdfFileReader) -> tuple[Any, dict[Any, tuple[Any, int]]]:
    """The root /Pages reference and, for each other node, (parent reference, index)."""
    root = reader.root.raw_get("/Pages")
    places: dict[Any, tuple[Any, int]] = {}
    stack = [root]
    while stack:
        ref = stack.pop()
        node = _resolve(ref)
        kids = (_resolve(dict.get(node, "/Kids"))
                if isinstance(node, generic.DictionaryObject) and "/Kids" in node else None)
        if not isinstance(kids, generic.ArrayObject):
            continue
        for index in range(len(kids)):
            kid = kids.raw_get(index)
            if isinstance(kid, generic.IndirectObject) and kid.reference not in places:
                places[kid.reference] = (ref.reference, index)
                kid_node = _resolve(kid)
                if isinstance(kid_node, generic.DictionaryObject) and "/Kids" in kid_node:
                    stack.append(kid)
    return root, places


def _struct_tree(reader: PdfFileReader, budget: int) -> set[Any]:
    refs: set[Any] = set()
    raw = dict.get(reader.root, "/StructTreeRoot")
    stack = [] if raw is None else [_resolve(raw)]
    while stack:
        elem = stack.pop()
        if not isinstance(elem, generic.DictionaryObject) or "/K" not in elem:
            continue
        raw_kids = dict.get(elem, "/K")
        kids = _resolve(raw_kids)
        children = ([kids.raw_get(i) for i in range(len(kids))]
                    if isinstance(kids, generic.ArrayObject) else [raw_kids])
        for child in children:
            child_obj = _resolve(child)
            if not isinstance(child_obj, generic.DictionaryObject):
                continue
            kind = dict.get(child_obj, "/Type")
            if kind is not None and _resolve(kind) != "/StructElem":
                continue
            if isinstance(child, generic.IndirectObject):
                if child.reference in refs:
                    return refs  # pyHanko stops here too ("circular reference")
                refs.add(child.reference)
            if len(refs) > budget:
                raise PdfTooComplexError("the PDF's structure tree is too large")
            stack.append(child_obj)
    return refs


def _references(value: Any, tree_key: str | None) -> dict[tuple[Any, bool], int]:
    """References held in one object's direct structure (not behind /Parent or /P), with
    how many key paths lead to each; those under the top-level ``tree_key`` marked."""
    found: dict[tuple[Any, bool], int] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, marked = stack.pop()
        if isinstance(item, generic.IndirectObject):
            key = (item.reference, marked)
            found[key] = found.get(key, 0) + 1
        elif isinstance(item, generic.DictionaryObject):
            stack.extend((dict.__getitem__(item, k), marked or (item is value and k == tree_key))
                         for k in item if k not in ("/Parent", "/P"))
        elif isinstance(item, generic.ArrayObject):
            stack.extend((item.raw_get(i), marked) for i in range(len(item)))
    return found


def _lower_bound(reader: PdfFileReader, pages_root: Any, places: dict[Any, tuple[Any, int]],
                 struct_refs: set[Any], limit: int) -> int:
    """Paths pyHanko surely maps, counted over the graph without its back edges, in linear
    time: a crafted graph is refused in milliseconds instead of at the end of the budget."""
    catalog = reader.trailer_view.raw_get("/Root").reference
    tree = {pages_root.reference, *places}
    edges: dict[Any, list[tuple[Any, int]]] = {}
    objects = 0
    todo: list[Any] = [None]
    while todo:
        node = todo.pop()
        if node in edges:
            continue
        objects += 1
        if objects > limit:
            raise PdfTooComplexError("the PDF has too many objects")
        value = reader.trailer_view if node is None else _fetch(reader, node)
        tree_key = "/Kids" if node in tree else "/Pages" if node == catalog else None
        out = []
        for (ref, in_tree), mult in _references(value, tree_key).items():
            # Only the edges pyHanko follows on every path (a lower bound stays one).
            if (ref == catalog and node is not None) or ref in struct_refs:
                continue
            if ref == pages_root.reference and not (in_tree and node == catalog):
                continue
            if ref in places and not (in_tree and places[ref][0] == node):
                continue
            out.append((ref, mult))
            todo.append(ref)
        edges[node] = out
    # Reverse post-order of a depth-first walk; edges back onto the walk are cycles: dropped.
    order: list[Any] = []
    state: dict[Any, int] = {}
    stack: list[tuple[Any, int]] = [(None, 0)]
    while stack:
        node, index = stack.pop()
        state[node] = 1
        targets = edges[node]
        while index < len(targets) and state.get(targets[index][0]) is not None:
            index += 1
        if index < len(targets):
            stack.append((node, index + 1))
            stack.append((targets[index][0], 0))
        else:
            state[node] = 2
            order.append(node)
    position = {node: index for index, node in enumerate(order)}
    paths: dict[Any, int] = {None: 1}
    total = 0
    for node in reversed(order):
        count = paths.get(node, 0)
        total += 0 if node is None else count
        if total > limit:
            break
        for ref, mult in edges[node]:
            if position[ref] < position[node]:
                paths[ref] = min(paths.get(ref, 0) + count * mult, limit + 1)
    return total


def count_paths(reader: PdfFileReader, *, budget: int | None = None) -> int:
    """Steps pyHanko's path mapping of this PDF takes; PdfTooComplexError past ``budget``."""
    limit = MAX_PATHS if budget is None else budget
    pages_root, places = _page_tree(reader)
    struct_refs = _struct_tree(reader, limit)
    if _lower_bound(reader, pages_root, places, struct_refs, limit) > limit:
        raise PdfTooComplexError(
            f"the PDF's objects are linked in too many ways to validate its signatures "
            f"(more than {limit} paths)"
        )
    on_path: set[Any] = set()
    steps = 0
    # (value, keys so far (only the first two and the count matter), page tree anchor:
    #  (node reference, keys since it) or None, inside the structure tree)
    stack: list[Any] = [(reader.trailer_view, (), 0, None, False)]
    while stack:
        frame = stack.pop()
        if frame[0] is _EXIT:
            on_path.discard(frame[1])
            continue
        value, head, depth, anchor, in_struct = frame
        steps += 1
        if depth > MAX_PATH_DEPTH:
            raise PdfTooComplexError(
                f"the PDF nests objects more than {MAX_PATH_DEPTH} levels deep, too deep to "
                "validate its signatures"
            )
        if steps > limit:
            raise PdfTooComplexError(
                f"the PDF's objects are linked in too many ways to validate its signatures "
                f"(more than {limit} paths)"
            )
        if isinstance(value, generic.IndirectObject):
            ref = value.reference
            if ref in on_path:
                continue
            if ref == pages_root.reference:
                if head != ("/Root", "/Pages") or depth != 2:
                    continue
                anchor = (ref, ())
            elif ref in places:
                parent, index = places[ref]
                if anchor is None or anchor != (parent, ("/Kids", index)):
                    continue
                anchor = (ref, ())
            if not in_struct and ref in struct_refs:
                continue
            on_path.add(ref)
            stack.append((_EXIT, ref))
            value = _resolve(value)
        if isinstance(value, generic.DictionaryObject):
            items: list[tuple[Any, Any]] = [(k, dict.__getitem__(value, k)) for k in value
                                            if k != "/Parent" and not (in_struct and k == "/P")]
        elif isinstance(value, generic.ArrayObject):
            items = [(i, value.raw_get(i)) for i in range(len(value))]
        else:
            continue
        for key, child in items:
            child_anchor = None
            if anchor is not None and len(anchor[1]) < 2:
                child_anchor = (anchor[0], (*anchor[1], key))
            child_struct = in_struct or (head == ("/Root", "/StructTreeRoot") and depth == 2
                                         and key == "/K")
            child_head = head if len(head) >= 2 else (*head, key)
            stack.append((child, child_head, depth + 1, child_anchor, child_struct))
    return steps
