"""Every form that posts carries the session's CSRF token: login refuses a post without it (issue 7),
so a form without the hidden field works in the Flask tests (whose client sends the header) and
fails in a browser."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "orthanc_rem_web" / "templates"
POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.I | re.S)


def test_every_posting_form_carries_the_csrf_token() -> None:
    missing = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for form in POST_FORM.finditer(template.read_text(encoding="utf-8")):
            if "csrf_token()" not in form.group(1) and "csrf_input()" not in form.group(1):
                missing.append(f"{template.relative_to(TEMPLATES)}: {form.group(0)[:80]}")
    assert missing == []
    assert any(POST_FORM.finditer((TEMPLATES / "login.html").read_text(encoding="utf-8")))
