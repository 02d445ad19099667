"""Patient identifiable data and not-patient indicators, applied when a study is stored.

The manual's rules (Configuration, "Not-patient indicators" and "Patient identifiable data"):
name and ID are checked against case-insensitive shell-glob patterns first, and the patterns that
matched are recorded; only then are name, ID and birth date dropped, kept, or replaced by a
one-way SHA-256 hash, as the settings say. The accession number is always kept, in clear or
hashed. Settings apply to future imports only.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model

P = TypeVar("P")

#: What OpenREM 0.7.4 treated as test data before the lists became configurable (manual L3036).
DEFAULTS_074 = {"id": ("*phy*", "*test*", "*qa*"), "name": ("*phys*", "*test*", "*qa*")}


@dataclass(frozen=True)
class IdentifiableDataPolicy:
    store_patient_name: bool = False
    hash_patient_name: bool = True
    store_patient_id: bool = False
    hash_patient_id: bool = True
    store_birth_date: bool = False
    hash_accession_number: bool = False
    name_patterns: tuple[str, ...] = ()
    id_patterns: tuple[str, ...] = ()


def sha256_hex(value: str) -> str:
    """One-way hash of the exact text (spelling, spaces and case matter), as the manual describes."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matching_patterns(value: str | None, patterns: Iterable[str]) -> list[str]:
    if not value:
        return []
    lowered = value.lower()
    return [p for p in patterns if fnmatch.fnmatchcase(lowered, p.lower())]


def not_patient_indicator(name: str | None, patient_id: str | None, policy: IdentifiableDataPolicy) -> str | None:
    """``IDs: <patterns> | Names: <patterns>`` for the patterns that matched, or None."""
    ids = matching_patterns(patient_id, policy.id_patterns)
    names = matching_patterns(name, policy.name_patterns)
    if not ids and not names:
        return None
    return f"IDs: {' '.join(ids)} | Names: {' '.join(names)}"


def protected(value: str | None, store: bool, hashed: bool) -> tuple[str | None, bool]:
    """What to keep of a value: nothing, the value, or its hash; and whether it is a hash."""
    if value is None or not store:
        return None, False
    return (sha256_hex(value), True) if hashed else (value, False)


#: The oldest age believed from a birth date (as extraction's plausibility rule), in days.
_OLDEST_BELIEVED_DAYS = 150 * 365.25


def stored_age_years(
    age_years: float | None, birth_date: dt.date | None, study_date: dt.date | None, policy: IdentifiableDataPolicy
) -> float | None:
    """The age kept with the study: whole months, unless the birth date is stored anyway.

    An age computed from the birth date (days / 365.25) and kept at full precision gives the birth
    date back to the day from the study date, which is what not storing the birth date is for.
    Months are counted from the birth month to the study month with the day of the month dropped,
    so every birth date in one month gives the same age: the stored age tells no more than the
    birth month. An age from Patient's Age (0010,1010) is floored to whole months the same way.
    """
    if age_years is None or policy.store_birth_date:
        return age_years
    if birth_date is not None and study_date is not None:
        if 0 <= (study_date - birth_date).days <= _OLDEST_BELIEVED_DAYS:
            return months_in_years((study_date.year - birth_date.year) * 12 + study_date.month - birth_date.month)
    return whole_months(age_years)


def whole_months(age_years: float) -> float | None:
    """An age in years floored to whole months (None for a value that is not a finite age)."""
    if not math.isfinite(age_years):
        return None
    # The small margin keeps 6 months (0.49999... years after division) at 6, not 5.
    return months_in_years(math.floor(age_years * 12 + 1e-6))


def months_in_years(months: int) -> float:
    return months / 12


def load_policy(session: Session) -> IdentifiableDataPolicy:
    settings = session.get(model.ImportSettings, 1) or model.ImportSettings()
    patterns = session.execute(select(model.NotPatientPattern.applies_to, model.NotPatientPattern.pattern)).all()
    return IdentifiableDataPolicy(
        store_patient_name=bool(settings.store_patient_name),
        hash_patient_name=settings.hash_patient_name is not False,
        store_patient_id=bool(settings.store_patient_id),
        hash_patient_id=settings.hash_patient_id is not False,
        store_birth_date=bool(settings.store_birth_date),
        hash_accession_number=bool(settings.hash_accession_number),
        name_patterns=tuple(p for kind, p in patterns if kind == "name"),
        id_patterns=tuple(p for kind, p in patterns if kind == "id"),
    )


class PolicyCache(Generic[P]):
    """A policy read at most every ``max_age_s`` seconds per process and database: a worker stores
    many objects a second, and a settings change taking effect a few seconds later is what the
    manual's "applies to future imports" means."""

    def __init__(self, loader: Callable[[Session], P], max_age_s: float = 5.0) -> None:
        self.loader = loader
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, P]] = {}

    def get(self, session: Session) -> P:
        bind = session.get_bind()
        key = str(getattr(bind, "url", bind))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.max_age_s:
                return entry[1]
        policy = self.loader(session)
        with self._lock:
            self._entries[key] = (time.monotonic(), policy)
        return policy

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True)
class DeletionPolicy:
    """The manual's five "delete after processing" settings, applied to Orthanc's storage only."""

    delete_unmatched: bool = False
    delete_rdsr: bool = False
    delete_mg_images: bool = False
    delete_dx_images: bool = False
    delete_philips_ct: bool = False

    def deletes(self, route: str | None) -> bool:
        return {
            "unmatched": self.delete_unmatched,
            "rdsr": self.delete_rdsr,
            "mg_image": self.delete_mg_images,
            "dx_image": self.delete_dx_images,
            "philips_ct_dose_info": self.delete_philips_ct,
        }.get(route or "", False)


def load_deletion_policy(session: Session) -> DeletionPolicy:
    settings = session.get(model.ImportSettings, 1)
    if settings is None:
        return DeletionPolicy()
    return DeletionPolicy(
        **{name: bool(getattr(settings, name)) for name in DeletionPolicy.__dataclass_fields__}
    )


policy_cache: PolicyCache[IdentifiableDataPolicy] = PolicyCache(load_policy)
deletion_policy_cache: PolicyCache[DeletionPolicy] = PolicyCache(load_deletion_policy)
