"""SR content items (PS3.3 C.17.3): finding the children of an item by concept, and reading the
value of a CODE, TEXT, UIDREF, PNAME or DATETIME item, under the rule of the package docstring.

A content item is a ``pydicom.Dataset`` with a ValueType, a ConceptNameCodeSequence and, for
containers, a ContentSequence. NUM items are read in :mod:`measurements`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pydicom.dataset import Dataset

from orthanc_rem.extraction.records import Code, ExtractionError
from orthanc_rem.extraction.sr.codes import canonical_code, code_from
from orthanc_rem.extraction.sr.text_and_dates import clean_text, dataset_text, parse_dt
from orthanc_rem.extraction.sr.units import InvalidValue

ContentItem = Dataset
T = TypeVar("T")


def concept_of(item: ContentItem) -> Code | None:
    return code_from(item.get("ConceptNameCodeSequence"))


def label(item: ContentItem) -> str:
    """How error messages name an item: its meaning and code, as a physicist would look it up."""
    concept = concept_of(item)
    if concept is None:
        return "content item without concept name"
    return f"{concept.meaning or '?'} ({concept.value}, {concept.scheme or '?'})"


class ItemLabel:
    """``label(item)``, worked out only when a message is formatted with it: the NUM readers name
    their item in every value check, ~60 per CT report, and all but a few pass."""

    __slots__ = ("item",)

    def __init__(self, item: ContentItem) -> None:
        self.item = item

    def __str__(self) -> str:
        return label(self.item)


def children(parent: ContentItem, concept: Code) -> list[ContentItem]:
    """Direct children of ``parent`` whose concept name is ``concept``, in document order."""
    index = _children_index(parent)
    scheme, value = canonical_code(concept.value, concept.scheme)
    if not scheme:  # a wanted concept without scheme matches on the value alone
        found = [entry for key, entries in index.items() if key[1] == value for entry in entries]
    else:
        found = index.get((scheme, value), []) + index.get(("", value), [])
    if len(found) > 1:
        found.sort(key=lambda entry: entry[0])
    return [item for _, item in found]


_INDEX_ATTRIBUTE = "_orthanc_rem_children_by_concept"


def _children_index(parent: ContentItem) -> dict[tuple[str, str], list[tuple[int, ContentItem]]]:
    """Children grouped by canonical concept, computed once per container.

    A template reader asks each container for twenty-odd concepts; scanning and decoding every
    child's concept name each time made a 27-event GE report take >100 ms. The index is kept as a
    plain Python attribute of the Dataset (set with ``object.__setattr__``, so pydicom never sees it
    as a DICOM element and never writes it); it assumes the tree is not edited while being read.
    """
    cached = vars(parent).get(_INDEX_ATTRIBUTE)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    index: dict[tuple[str, str], list[tuple[int, ContentItem]]] = {}
    for position, item in enumerate(parent.get("ContentSequence") or ()):
        concept = concept_of(item)
        if concept is not None:
            index.setdefault(canonical_code(concept.value, concept.scheme), []).append((position, item))
    object.__setattr__(parent, _INDEX_ATTRIBUTE, index)
    return index


def first_child(parent: ContentItem, concept: Code, warnings: list[str]) -> ContentItem | None:
    """The child with that concept; a repeated single-valued item is a warning, the first one wins."""
    found = children(parent, concept)
    if len(found) > 1:
        warnings.append(f"{concept.meaning} ({concept.value}) appears {len(found)} times; the first is used")
    return found[0] if found else None


@contextmanager
def within(where: str) -> Iterator[None]:
    """Prefix any extraction error raised inside with the container it happened in."""
    try:
        yield
    except ExtractionError as exc:
        raise type(exc)(f"{where} > {exc}") from exc


def expect_value_type(item: ContentItem, *value_types: str) -> None:
    found = clean_text(item.get("ValueType"))
    if found not in value_types:
        raise ExtractionError(f"{label(item)}: expected value type {'/'.join(value_types)}, found {found}")


def code(item: ContentItem) -> Code | None:
    expect_value_type(item, "CODE")
    return code_from(item.get("ConceptCodeSequence"))


def text(item: ContentItem) -> str | None:
    expect_value_type(item, "TEXT")
    return dataset_text(item, "TextValue")


def uid(item: ContentItem) -> str | None:
    expect_value_type(item, "UIDREF")
    return dataset_text(item, "UID")


def person_name(item: ContentItem) -> str | None:
    expect_value_type(item, "PNAME")
    return dataset_text(item, "PersonName")


def datetime_(item: ContentItem) -> dt.datetime | None:
    expect_value_type(item, "DATETIME")
    return parse_dt(dataset_text(item, "DateTime"))


def read_item(
    item: ContentItem, read: Callable[[ContentItem], T | None], warnings: list[str], *, required: bool = False
) -> T | None:
    """``read(item)``, with the rule of the module docstring: an invalid value is a warning and
    None; a malformed item (wrong value type, unknown unit) is a warning and None when the item is
    optional and rejects the report (``ExtractionError``) when it is ``required``."""
    try:
        return read(item)
    except InvalidValue as exc:
        warnings.append(f"{exc}; left empty")
        return None
    except ExtractionError as exc:
        if required:
            raise
        warnings.append(f"{exc}; optional item left empty")
        return None


def child_value(
    parent: ContentItem,
    concept: Code,
    read: Callable[[ContentItem], T | None],
    warnings: list[str],
    *,
    required: bool = False,
) -> T | None:
    """Read the value of the (first) child with ``concept`` using ``read`` (``num``, ``code`` …),
    through :func:`read_item`: a malformed child is a warning unless ``required``."""
    item = first_child(parent, concept, warnings)
    return read_item(item, read, warnings, required=required) if item is not None else None


def display(item: ContentItem) -> str | None:
    """A TEXT or CODE item as text: Reference Point Definition is TEXT or CODE (CID 10025) in PS3.16,
    and Acquisition Protocol arrives as CODE from some systems."""
    value_type = clean_text(item.get("ValueType"))
    if value_type == "CODE":
        found = code(item)
        return str(found) if found else None
    if value_type == "UIDREF":
        return uid(item)
    return text(item)
