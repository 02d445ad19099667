"""With birth dates not stored, the stored age must not give the birth date back.

An age in decimal years (days / 365.25) at full precision and the study date give the birth date to
the day; the age is kept in whole months, so two patients born in the same month get the same age.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from orthanc_rem import database, identifiable_data, import_settings, model, persistence
from orthanc_rem.extraction import records
from orthanc_rem.extraction.headers import age_from_birth_date
from test_web import ct_report

STUDY_DATE = dt.date(2024, 3, 1)


def stored_age(sessions, number: int, born: dt.date) -> float | None:  # type: ignore[no-untyped-def]
    # The age as extraction computes it from Patient's Birth Date at the study date.
    patient = records.Patient(birth_date=born, age_years=age_from_birth_date(born, STUDY_DATE))
    with sessions() as session:
        result = persistence.store_report(session, ct_report(number, study_date=STUDY_DATE, patient=patient))
        stored = session.scalars(select(model.Patient).where(model.Patient.study_fk == result.study_id)).one()
        return stored.age_years


def test_two_birth_dates_in_one_month_give_the_same_age(sessions):
    identifiable_data.policy_cache.clear()
    first = stored_age(sessions, 1, dt.date(1971, 8, 1))
    last = stored_age(sessions, 2, dt.date(1971, 8, 31))
    next_month = stored_age(sessions, 3, dt.date(1971, 9, 1))
    # From August 1971 to March 2024: (2024 - 1971) * 12 + (3 - 8) = 631 months, 52 years 7 months.
    assert first == last == pytest.approx(52 + 7 / 12)
    assert next_month == pytest.approx(52 + 6 / 12)


def test_the_age_is_kept_as_computed_when_birth_dates_are_stored(sessions):
    with sessions() as session:
        import_settings.change(session, store_birth_date=True)
        session.commit()
    identifiable_data.policy_cache.clear()
    born = dt.date(1971, 8, 17)
    assert stored_age(sessions, 4, born) == pytest.approx((STUDY_DATE - born).days / 365.25)
    identifiable_data.policy_cache.clear()


def test_an_age_from_the_age_string_is_floored_to_whole_months():
    policy = identifiable_data.IdentifiableDataPolicy()
    assert identifiable_data.stored_age_years(6 * (365.25 / 12) / 365.25, None, STUDY_DATE, policy) == 0.5
    assert identifiable_data.stored_age_years(40 / 365.25, None, STUDY_DATE, policy) == pytest.approx(1 / 12)
    assert identifiable_data.stored_age_years(63.0, None, None, policy) == 63.0


def test_migration_0006_floors_the_ages_already_stored(database_url_unmigrated):
    from alembic import command

    url = database_url_unmigrated
    command.upgrade(database.alembic_config(url), "0005")
    engine = database.make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO study (id, study_instance_uid, modality, imported_at, updated_at) VALUES"
                " (1, '1.2.1', 'CT', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
                " (2, '1.2.2', 'CT', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO patient (study_fk, birth_date, age_years, name_hashed, patient_id_hashed) VALUES"
                " (1, NULL, 52.5859, false, false), (2, '1971-08-17', 52.5859, false, false)"
            )
        )
    command.upgrade(database.alembic_config(url), "0006")  # later ones remove studies without objects
    with engine.connect() as connection:
        ages = {fk: age for fk, age in connection.execute(text("SELECT study_fk, age_years FROM patient"))}
    engine.dispose()
    assert ages[1] == pytest.approx(52 + 7 / 12)  # floor(52.5859 * 12) = 631 months
    assert ages[2] == 52.5859  # the birth date is stored: nothing to hide
