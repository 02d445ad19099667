"""What the list pages' chart panel (``templates/chart_panel.html``) loads: our ``charts.js`` and
Plotly's own ``plotly.min.js``, served from the installed ``plotly`` package, so that charts work
on a hospital network without internet access (manual: "export as image without internet")."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_file

from orthanc_rem_web import permissions

blueprint = Blueprint("charts_page", __name__, static_folder="charts_static", static_url_path="/static")


def plotly_script() -> Path:
    """plotly.min.js as the ``plotly`` Python package ships it (``package_data``)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@blueprint.get("/plotly.min.js")
@permissions.require(permissions.VIEW)
def plotly() -> Response:
    return send_file(plotly_script(), mimetype="text/javascript", max_age=86400)
