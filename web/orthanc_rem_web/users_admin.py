"""The administrators' users page: list, add, change groups, deactivate, reset a password, remove.

Admins cannot take away their own admin group, deactivate or remove themselves: another admin
must, so that a site does not lock itself out by one click (``orthanc-rem user`` and
``ORTHANC_REM_ADMIN_PASSWORD`` remain the way back in).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for

from orthanc_rem import login_sessions, users
from orthanc_rem.model import DoseBrowserUser
from orthanc_rem_web import permissions
from orthanc_rem_web.auth import current_user
from orthanc_rem_web.db import dose_session, writer_session

blueprint = Blueprint("users_admin", __name__)


def _page(error: str | None = None, status: int = 200) -> Any:
    rows = users.list_users(dose_session())
    return (
        render_template("users.html", users=rows, groups=users.GROUPS, error=error, messages=get_flashed_messages()),
        status,
    )


@blueprint.get("/users")
@permissions.require(permissions.ADMIN)
def user_list() -> Any:
    return _page()


@blueprint.post("/users")
@permissions.require(permissions.ADMIN)
def add_user() -> Any:
    form = request.form
    try:
        if form.get("password", "") != form.get("password_again", ""):
            raise users.UserError("the two passwords differ")
        with writer_session() as accounts:
            users.add_user(accounts, form.get("name", ""), form.get("password", ""), form.getlist("groups"))
    except users.UserError as exc:
        return _page(str(exc), 400)
    flash(f"Added user {form.get('name', '').strip()}.")
    return redirect(url_for("users_admin.user_list"))


def _row(accounts: Any, user_id: int) -> DoseBrowserUser:
    row = accounts.get(DoseBrowserUser, user_id)
    if row is None:
        abort(404, description=f"There is no user with id {user_id}.")
    return row


def _is_me(row: DoseBrowserUser) -> bool:
    me = current_user()
    return me is not None and me.name == row.name


@blueprint.get("/users/<int:user_id>")
@permissions.require(permissions.ADMIN)
def edit_user(user_id: int) -> Any:
    accounts = dose_session()
    row = _row(accounts, user_id)
    return render_template(
        "user_edit.html",
        user=row,
        groups=users.GROUPS,
        error=None,
        me=_is_me(row),
        open_sessions=login_sessions.open_sessions(accounts, row, users.now()),
        messages=get_flashed_messages(),
    )


@blueprint.post("/users/<int:user_id>")
@permissions.require(permissions.ADMIN)
def change_user(user_id: int) -> Any:
    form = request.form
    with writer_session() as accounts:
        row = _row(accounts, user_id)
        groups = form.getlist("groups")
        active = form.get("active") == "on"
        password = form.get("password") or None
        try:
            if _is_me(row) and (permissions.ADMIN not in groups or not active):
                raise users.UserError("you cannot remove your own admin group or deactivate yourself")
            if password is not None and password != form.get("password_again", ""):
                raise users.UserError("the two passwords differ")
            users.change_user(accounts, row.name, groups=groups, password=password, active=active)
        except users.UserError as exc:
            accounts.rollback()
            page = render_template(
                "user_edit.html", user=row, groups=users.GROUPS, error=str(exc), me=_is_me(row), open_sessions=None
            )
            return page, 400
        flash(f"Changed user {row.name}.")
    return redirect(url_for("users_admin.user_list"))


@blueprint.post("/users/<int:user_id>/remove")
@permissions.require(permissions.ADMIN)
def remove_user(user_id: int) -> Any:
    with writer_session() as accounts:
        row = _row(accounts, user_id)
        if _is_me(row):
            abort(400, description="You cannot remove yourself; another admin can.")
        users.remove_user(accounts, row.name)
        flash(f"Removed user {row.name}.")
    return redirect(url_for("users_admin.user_list"))


@blueprint.post("/users/<int:user_id>/end-sessions")
@permissions.require(permissions.ADMIN)
def end_sessions(user_id: int) -> Any:
    """Log the user out everywhere (a stolen cookie, a shared computer); an admin ending their own
    sessions is logged out here too, and logs in again."""
    with writer_session() as accounts:
        row = _row(accounts, user_id)
        ended = users.end_sessions(accounts, row.name)
        flash(f"Ended {ended} session(s) of {row.name}.")
    return redirect(url_for("users_admin.edit_user", user_id=user_id))
