"""Coded concepts: when two codes name the same concept, and reading a code sequence.

PS3.16 re-coded its SNOMED concepts from the retired SNOMED-RT ("SRT") designators to SNOMED CT
("SCT") in 2019 (CP-1850). Older reports (all of our corpus) send the SRT code, newer ones the SCT
code, for the same concept, so a concept is compared by its SCT form. The table is pydicom's: its
``pydicom.sr.coding.Code`` compares SRT and SCT codes through the same mapping (PS3.16 Annex O),
so it is kept in one place for every template, CT and projection alike.
"""

from __future__ import annotations

from functools import lru_cache

from pydicom.sr._snomed_dict import mapping as _snomed_mapping

from orthanc_rem.extraction.records import Code
from orthanc_rem.extraction.sr.text_and_dates import clean_text

#: SNOMED-RT code -> SNOMED CT code of the same concept (PS3.16 Annex O, as pydicom ships it; the
#: module is pydicom's own and the pydicom minor version is pinned in pyproject.toml).
SRT_TO_SCT: dict[str, str] = _snomed_mapping["SRT"]

#: Designators that name the same coding scheme: "SNM3" is SNOMED 3 as early implementations sent it,
#: before PS3.16 settled on "SRT".
_SCHEME_ALIASES = {"SNM3": "SRT"}


@lru_cache(maxsize=4096)
def canonical_code(value: str, scheme: str | None) -> tuple[str, str]:
    """The (scheme, value) a code is compared by: SRT codes that moved to SCT compare as SCT.

    Cached: a report asks this for the same few hundred codes thousands of times."""
    scheme = (scheme or "").strip().upper()
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    value = value.strip()
    if scheme == "SRT" and value in SRT_TO_SCT:
        return "SCT", SRT_TO_SCT[value]
    return scheme, value


def same_concept(a: Code | None, b: Code) -> bool:
    """True when ``a`` and ``b`` are the same concept, whatever SNOMED generation encoded it.

    A missing scheme designator (seen in hand-made reports) matches on the code value alone.
    """
    if a is None:
        return False
    scheme_a, value_a = canonical_code(a.value, a.scheme)
    scheme_b, value_b = canonical_code(b.value, b.scheme)
    if not scheme_a or not scheme_b:
        return a.value.strip() == b.value.strip()
    return (scheme_a, value_a) == (scheme_b, value_b)


def code_from(sequence: object) -> Code | None:
    """The first item of a code sequence as a :class:`Code`; None when absent or empty."""
    if not sequence:
        return None
    item = sequence[0]  # type: ignore[index]
    value = clean_text(item.get("CodeValue")) or clean_text(item.get("LongCodeValue"))
    value = value or clean_text(item.get("URNCodeValue"))
    if value is None:
        return None
    return Code(value, clean_text(item.get("CodingSchemeDesignator")), clean_text(item.get("CodeMeaning")))
