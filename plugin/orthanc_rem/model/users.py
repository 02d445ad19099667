"""The dose browser's own users (issue 7): separate from Orthanc's ``RegisteredUsers``.

Orthanc's accounts open its whole REST API; ours open only the dose pages and the JSON API under
``/rem``. ``groups`` holds the manual's groups as a sorted, comma-separated list (``view,pid``):
six fixed names checked by ``orthanc_rem.users``, so a join table would add nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base


class DoseBrowserUser(Base):
    __tablename__ = "dose_browser_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(Text, info={"doc": "werkzeug.security scrypt hash"})
    groups: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_login: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def group_set(self) -> frozenset[str]:
        return frozenset(group for group in self.groups.split(",") if group)
