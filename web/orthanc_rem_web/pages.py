"""The HTML pages: home, CT study list, CT study detail, objects not imported.

Columns and header fields follow the OpenREM 0.8.1 manual ("Viewing study details") so that users
moving from OpenREM find what they know; everything else is plain server-rendered HTML that works
without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from orthanc_rem import study_document
from orthanc_rem_web.app import browser, dose_session, list_query, page_arguments, per_page_choices

blueprint = Blueprint("pages", __name__)


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@blueprint.get("/")
def home() -> str:
    session = dose_session()
    counts = study_document.modality_counts(session)
    counts.setdefault("CT", 0)
    return render_template(
        "home.html",
        counts=sorted(counts.items()),
        total=sum(counts.values()),
        rejected=study_document.rejected_count(session),
    )


@blueprint.get("/ct/")
def ct_list() -> str:
    default = browser().settings.page_size
    choices = per_page_choices(default)
    query = list_query(request.args, default, choices)
    studies, total = study_document.load_studies(
        dose_session(),
        modality="CT",
        date_from=query.date_from,
        date_until=query.date_until,
        page=query.page,
        per_page=query.per_page,
    )
    return render_template(
        "ct_list.html",
        studies=[study_document.study_summary(s) for s in studies],
        total=total,
        query=query,
        pages=_pages(total, query.per_page),
        default_per_page=default,
        per_page_choices=choices,
    )


@blueprint.get("/ct/<int:study_id>")
def ct_detail(study_id: int) -> str:
    study = study_document.load_study(dose_session(), study_id)
    if study is None or study.modality != "CT":
        abort(404, description=f"There is no CT study with id {study_id}.")
    return render_template(
        "ct_detail.html",
        study=study,
        report_dlp=study_document.dose_report_dlp_mgycm,
        total_dlp=study_document.total_dlp_mgycm(study),
        number_of_events=study_document.number_of_events(study),
    )


@blueprint.get("/rejected")
def rejected() -> str:
    default = browser().settings.page_size
    choices = per_page_choices(default)
    page, per_page = page_arguments(request.args, default, choices)
    rows, total = study_document.load_rejected(dose_session(), page, per_page)
    return render_template(
        "rejected.html",
        rows=rows,
        total=total,
        page=page,
        per_page=per_page,
        pages=_pages(total, per_page),
        default_per_page=default,
    )
