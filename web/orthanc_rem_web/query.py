"""Query parameters shared by the pages and the API: every value a user can type is checked here,
and a bad one raises ``BadParameter`` (answered with 400 and the message), never reaches SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orthanc_rem.study_document import MODALITIES

PER_PAGE_CHOICES = (10, 25, 50, 100, 200, 400)
API_PER_PAGE = range(1, 1001)
#: No list has this many pages; the bound keeps ``OFFSET`` (page - 1) * per_page inside the signed
#: 64-bit integers SQLite and PostgreSQL take (2^63 overflowed into an HTTP 500).
MAX_PAGE = 2**31 - 1
#: The study id in a URL: werkzeug's ``int`` converter takes any length, and an id past SQL's signed
#: 64-bit integers raised an overflow (HTTP 500) instead of "no such study" (404).
STUDY_ID = f"<int(max={2**63 - 1}):study_id>"
# ASCII only: ``\d`` and ``str.isdigit`` also accept other scripts' digits and "²", which ``int``
# then reads differently or not at all.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadParameter(ValueError):
    """A query parameter the user can fix; answered with 400 and the message."""


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    date_from: dt.date | None = None
    date_until: dt.date | None = None
    display_name: str | None = None
    #: Peak skin dose range (Gy) of the fluoroscopy list (``orthanc_rem.skin_dose.listing``).
    psd_from: float | None = None
    psd_until: float | None = None

    def link_args(self, default_per_page: int, **changes: Any) -> dict[str, Any]:
        """Arguments for ``url_for`` that reproduce this query (defaults omitted), with ``changes``."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_until": self.date_until.isoformat() if self.date_until else None,
            "display_name": self.display_name,
            "psd_from": self.psd_from,
            "psd_until": self.psd_until,
            "per_page": self.per_page if self.per_page != default_per_page else None,
            "page": self.page,
        } | changes
        if values["page"] == 1:
            values["page"] = None
        return {key: value for key, value in values.items() if value is not None}


def page_arguments(args: Mapping[str, str], default_per_page: int, allowed: Sequence[int]) -> tuple[int, int]:
    page = _whole_number(args, "page", 1)
    if page > MAX_PAGE:
        raise BadParameter(f"page must be {MAX_PAGE} or less, not {page}.")
    per_page = _whole_number(args, "per_page", default_per_page)
    if per_page not in allowed:
        if isinstance(allowed, range):
            expected = f"between {allowed.start} and {allowed.stop - 1}"
        else:
            expected = "one of " + ", ".join(map(str, allowed))
        raise BadParameter(f"per_page must be {expected}, not {per_page}.")
    return page, per_page


def list_query(args: Mapping[str, str], default_per_page: int, allowed: Sequence[int]) -> ListQuery:
    page, per_page = page_arguments(args, default_per_page, allowed)
    date_from, date_until = _date(args, "date_from"), _date(args, "date_until")
    if date_from and date_until and date_from > date_until:
        raise BadParameter(f"date_from ({date_from}) is after date_until ({date_until}).")
    psd_from, psd_until = _dose_gy(args, "psd_from"), _dose_gy(args, "psd_until")
    if psd_from is not None and psd_until is not None and psd_from > psd_until:
        raise BadParameter(f"psd_from ({psd_from:g}) is above psd_until ({psd_until:g}).")
    return ListQuery(page, per_page, date_from, date_until, _text(args, "display_name"), psd_from, psd_until)


def modality_argument(args: Mapping[str, str]) -> str | None:
    """The ``modality`` filter, upper-cased; None when not given."""
    text = (args.get("modality") or "").strip()
    if not text:
        return None
    if text.upper() not in MODALITIES:
        raise BadParameter(f"modality must be one of {', '.join(MODALITIES)}, not {text!r}.")
    return text.upper()


def per_page_choices(default_per_page: int) -> tuple[int, ...]:
    return tuple(sorted({*PER_PAGE_CHOICES, default_per_page}))


def _whole_number(args: Mapping[str, str], name: str, default: int) -> int:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise BadParameter(f"{name} must be a whole number of 1 or more, not {text!r}.")
    if not _WHOLE_NUMBER.fullmatch(text):
        raise BadParameter(f"{name} must be a whole number of at most 12 digits, not {text[:40]!r}.")
    if int(text) < 1:
        raise BadParameter(f"{name} must be a whole number of 1 or more, not {text!r}.")
    return int(text)


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} must be a date written yyyy-mm-dd, not {text[:40]!r}.") from None


def _dose_gy(args: Mapping[str, str], name: str) -> float | None:
    """A dose in Gy: a plain decimal, 0 or more (no NaN, infinity or exponent games)."""
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise BadParameter(f"{name} must be a dose in Gy such as 2 or 0.5, not {text[:40]!r}.")
    return float(text)


def _text(args: Mapping[str, str], name: str) -> str | None:
    """Free text (a display name): anything but NUL, which PostgreSQL text cannot hold."""
    text = args.get(name) or None
    if text is not None and "\x00" in text:
        raise BadParameter(f"{name} must not contain NUL characters.")
    return text
