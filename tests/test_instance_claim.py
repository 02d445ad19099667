"""A worker extracts an Orthanc instance only if no other worker holds it and it has no outcome:
what keeps extraction once when a node's catch-up queues an instance a second time."""

from __future__ import annotations

from orthanc_rem import database, instance_claim
from orthanc_rem.ingest import record_outcome
from orthanc_rem.outcome import Outcome


def test_an_instance_is_claimed_once_and_not_after_its_outcome(database_url):
    with instance_claim.claim(database_url, "abc") as not_now:
        assert not_now is None
        if database.engine_for(database_url).dialect.name == "postgresql":
            # Held: a second worker (another connection) is told to leave it.
            with instance_claim.claim(database_url, "abc") as second:
                assert second == instance_claim.BEING_EXTRACTED
            with instance_claim.claim(database_url, "other") as unrelated:
                assert unrelated is None
        sessions = database.session_factory(database_url)
        record_outcome(sessions, "orthanc:abc", Outcome.UNMATCHED, "test", "abc", None, None)
    with instance_claim.claim(database_url, "abc") as again:
        assert again == instance_claim.ALREADY_DONE


def test_lock_keys_are_signed_64_bit_and_differ():
    keys = {instance_claim.lock_key(f"id-{n}") for n in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= key < 2**63 for key in keys)
