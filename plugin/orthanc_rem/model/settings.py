"""Import settings a physicist or administrator changes at run time (manual, "Configuration").

One row of :class:`ImportSettings` (id 1) holds the patient identifiable data choices and the
delete-objects policy; :class:`NotPatientPattern` holds the not-patient indicator lists. Both
apply to future imports only, as the manual says.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base


class ImportSettings(Base):
    """Patient identifiable data (manual L3040-3125), delete-objects policy (L2818-2861) and the
    date format of XLSX exports (L5557, default dd/mm/yyyy).

    Defaults are the manual's: name and ID neither stored nor (if stored) kept in clear,
    birth date not stored, accession number stored in clear, nothing deleted.
    """

    __tablename__ = "import_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_patient_name: Mapped[bool] = mapped_column(Boolean, default=False)
    hash_patient_name: Mapped[bool] = mapped_column(Boolean, default=True)
    store_patient_id: Mapped[bool] = mapped_column(Boolean, default=False)
    hash_patient_id: Mapped[bool] = mapped_column(Boolean, default=True)
    store_birth_date: Mapped[bool] = mapped_column(Boolean, default=False)
    hash_accession_number: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_unmatched: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_rdsr: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_mg_images: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_dx_images: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_philips_ct: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How XLSX exports show dates (an Excel number format); see ``orthanc_rem.export_settings``.
    export_date_format: Mapped[str] = mapped_column(String(32), default="dd/mm/yyyy", server_default="dd/mm/yyyy")


class NotPatientPattern(Base):
    """A case-insensitive shell-glob that marks a patient name or ID as test/QA data (manual L2993-3038)."""

    __tablename__ = "not_patient_pattern"
    __table_args__ = (UniqueConstraint("applies_to", "pattern"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    applies_to: Mapped[str] = mapped_column(String(8), info={"doc": "'name' or 'id'"})
    pattern: Mapped[str] = mapped_column(Text)
