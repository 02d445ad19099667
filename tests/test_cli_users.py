"""``orthanc-rem user``: the dose browser's users from the command line (issue 7)."""

from __future__ import annotations

import io

import pytest

from orthanc_rem import database, users
from orthanc_rem.cli import main


def run(monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_add_list_change_remove(monkeypatch, capsys, database_url: str) -> None:
    db = ("--database", database_url)
    status, out, err = run(
        monkeypatch,
        capsys,
        "user",
        "add",
        "Jürg",
        "--groups",
        "view,pid",
        "--password-stdin",
        *db,
        stdin="a long password\n",
    )
    assert (status, err) == (0, "")
    sessions = database.session_factory(database_url)
    with sessions() as session:
        user = users.authenticate(session, "Jürg", "a long password")  # the newline is not part of it
        assert user is not None and user.group_set == {"view", "pid"}
    status, out, _ = run(monkeypatch, capsys, *db, "user", "list")
    assert status == 0 and "Jürg\tview,pid\tyes\tnever" in out

    status, _, _ = run(
        monkeypatch,
        capsys,
        "user",
        "change",
        "Jürg",
        "--groups",
        "admin",
        "--inactive",
        "--password-stdin",
        *db,
        stdin="another password\n",
    )
    assert status == 0
    with sessions() as session:
        user = users.get_user(session, "Jürg")
        assert (user.group_set, user.active) == ({"admin"}, False)
    assert run(monkeypatch, capsys, "user", "change", "Jürg", "--active", *db)[0] == 0
    with sessions() as session:
        assert users.authenticate(session, "Jürg", "another password") is not None

    assert run(monkeypatch, capsys, "user", "remove", "Jürg", *db)[0] == 0
    status, _, err = run(monkeypatch, capsys, "user", "remove", "Jürg", *db)
    assert status == 1 and "there is no user" in err


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (("--groups", "view,root"), "a long password\n", "unknown group(s) root"),
        (("--groups", "view"), "short\n", "at least 8 characters"),
    ],
)
def test_refused_with_a_reason(monkeypatch, capsys, database_url: str, arguments, stdin: str, message: str) -> None:  # type: ignore[no-untyped-def]
    status, _, err = run(
        monkeypatch, capsys, "user", "add", "x", *arguments, "--password-stdin", "--database", database_url, stdin=stdin
    )
    assert status == 1 and message in err
