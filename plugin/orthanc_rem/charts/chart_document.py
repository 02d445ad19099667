"""A chart's data for the studies a list filter selects: what ``GET /api/charts/<modality>/<chart>``
returns and the pages draw. The grouping, means and medians are computed in the database
(``charts.statistics``); Python only sorts the few resulting categories."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, text, true
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import named_groups, sources, statistics
from orthanc_rem.charts.catalogue import Chart
from orthanc_rem.charts.options import ChartOptions
from orthanc_rem.study_filters import DEFAULT_ORDER, StudyFilter, select_studies

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def filtered_studies(study_filter: StudyFilter) -> sources.Selection:
    """The list filter and its condition on the ``study`` table (the default order needs no join)."""
    condition = select_studies(replace(study_filter, order_by=DEFAULT_ORDER)).whereclause
    return sources.Selection(study_filter, true() if condition is None else condition)


def chart_data(session: Session, chart: Chart, study_filter: StudyFilter, options: ChartOptions) -> dict[str, Any]:
    """The chart's document: ``chart``, ``title``, ``unit``, ``kind`` and ``data`` (plus what its kind adds)."""
    if chart.kind == "over_time":
        options = replace(options, series_per_system=False)
    if statistics.dialect(session) == "postgresql":
        # The medians sort every value of a group: in memory, not in temporary files (default 4 MB).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    selection = filtered_studies(study_filter)
    rows = chart.rows(session, selection, options)
    document: dict[str, Any] = {
        "chart": chart.name, "modality": chart.modality, "title": chart.title, "kind": chart.kind,
        "unit": chart.unit, "category_label": chart.category_label,
    }  # fmt: skip
    if chart.kind == "average":
        document["data"] = _averages(session, chart, rows, selection, options)
    elif chart.kind == "frequency":
        document["data"] = _frequencies(session, chart, rows, selection, options)
    elif chart.kind == "over_time":
        document |= {"period": options.period, "data": _over_time(session, rows, options)}
    elif chart.kind == "workload":
        document["data"] = _workload(session, rows)
    else:
        document |= {"x": chart.axes[0] if chart.axes else "", "y": chart.axes[1] if chart.axes else ""}
        document["data"] = _scatter(session, rows)
    return document


def _narrow_keys(chart: Chart, selection: sources.Selection, options: ChartOptions) -> Any:
    """The stored-key rows of a CT acquisition chart (``charts.named_groups``), else None."""
    if chart.narrow_value is None:
        return None
    return sources.ct_chart_event_keys(selection, options, chart.narrow_value).subquery()


def _averages(session: Session, chart: Chart, rows: Select[Any], selection: sources.Selection,
              options: ChartOptions) -> list[dict[str, Any]]:  # fmt: skip
    study_filter = selection.study_filter
    subquery = rows.subquery()
    median = options.average != "mean"
    keyed = _narrow_keys(chart, selection, options)
    values_of = None
    if chart.narrow_value is not None:
        values_of = (sources.ct_chart_event_values(selection, chart.narrow_value), chart.narrow_value)
    data = None if keyed is None else named_groups.averages(session, keyed, options, median, values_of)
    if data is None:
        data = statistics.grouped_statistics(session, subquery, ["category", "series"], median)
    for item in data:
        item["filter"] = drilldown(chart, study_filter, options, item["category"], item["series"])
    if options.histogram:
        bins = statistics.histograms(session, subquery, ["category", "series"], options.bins)
        for item in data:
            histogram = bins[(item["category"], item["series"])]
            if options.normalise:
                histogram["counts"] = [count / item["n"] for count in histogram["counts"]]
            histogram["filters"] = _bin_filters(chart, item["filter"], histogram["edges"])
            item["histogram"] = histogram
    return _sorted(data, options, options.sort_average)


def _frequencies(session: Session, chart: Chart, rows: Select[Any], selection: sources.Selection,
                 options: ChartOptions) -> list[dict[str, Any]]:  # fmt: skip
    study_filter = selection.study_filter
    keyed = _narrow_keys(chart, selection, options)
    if keyed is None:
        data = statistics.grouped_counts(session, rows.subquery(), ["category", "series"])
    else:
        data = named_groups.counts(session, keyed, options)
    for item in data:
        item["filter"] = drilldown(chart, study_filter, options, item["category"], item["series"])
    return _sorted(data, options, "n")


def _over_time(session: Session, rows: Select[Any], options: ChartOptions) -> list[dict[str, Any]]:
    dated = rows.add_columns(sources.period_start(session, options.period).label("period"))
    dated = dated.where(model.Study.study_date.is_not(None))
    data = statistics.grouped_statistics(session, dated.subquery(), ["category", "period"], options.average != "mean")
    for item in data:
        item["period"] = str(item["period"])
    return sorted(data, key=lambda item: (item["category"].casefold(), item["period"]))


def _workload(session: Session, rows: Select[Any]) -> list[dict[str, Any]]:
    counts = statistics.grouped_counts(session, rows.subquery(), ["weekday", "hour"])
    days: list[dict[str, Any]] = [{"weekday": name, "n": 0, "hours": [0] * 24, "unknown_hour": 0} for name in WEEKDAYS]
    for item in counts:
        day = days[int(item["weekday"])]
        day["n"] += item["n"]
        if item["hour"] is None:
            day["unknown_hour"] += item["n"]
        else:
            day["hours"][int(item["hour"])] += item["n"]
    return days


def _scatter(session: Session, rows: Select[Any]) -> list[dict[str, Any]]:
    return [
        {"series": row.series, "breast": row.breast, "x": float(row.x), "y": float(row.y), "study_id": row.study_id}
        for row in session.execute(rows.order_by(rows.selected_columns.study_id))
    ]


def drilldown(chart: Chart, study_filter: StudyFilter, options: ChartOptions, category: str,
              series: str) -> dict[str, str] | None:  # fmt: skip
    """The list filter (as query parameters) of the studies behind one bar or slice: the chart's
    filter narrowed to the category and, with a series per system, to the system.

    The category filters are the lists' "contains" searches (the manual: "isn't exact"); a blank
    category cannot be searched for, so it links nowhere.
    """
    if chart.category_parameter is None or category == sources.BLANK:
        return None
    narrowed = {**study_filter.parameters(), chart.category_parameter: category}
    if options.series_per_system and series != sources.BLANK:
        narrowed["system"] = series
    return narrowed


def _bin_filters(chart: Chart, category_filter: dict[str, str] | None, edges: list[float]) -> list[Any]:
    """Per histogram bin, the category's filter narrowed to the bin's range of study totals."""
    if chart.range_parameters is None or category_filter is None:
        return [None] * (len(edges) - 1)
    low, high = chart.range_parameters
    return [{**category_filter, low: _bound(edges[i], floor=True), high: _bound(edges[i + 1], floor=False)}
            for i in range(len(edges) - 1)]  # fmt: skip


def _bound(value: float, floor: bool) -> str:
    """A bin edge as the list's filters take it (plain decimals, 6 places, widened outwards)."""
    import math

    scaled = math.floor(value * 1e6) if floor else math.ceil(value * 1e6)
    return f"{max(scaled, 0) / 1e6:.6f}".rstrip("0").rstrip(".")


def _sorted(data: list[dict[str, Any]], options: ChartOptions, value_key: str) -> list[dict[str, Any]]:
    """Categories ordered by value (largest of their series), frequency (all series) or name."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for item in data:
        by_category.setdefault(item["category"], []).append(item)

    def key(name: str) -> Any:
        items = by_category[name]
        if options.sort == "name":
            return (name.casefold(), name)
        if options.sort == "value" and value_key != "n":
            return (max(item[value_key] for item in items), name.casefold())
        return (sum(item["n"] for item in items), name.casefold())

    ordered = sorted(by_category, key=key, reverse=options.descending)
    return [item for name in ordered for item in sorted(by_category[name], key=lambda item: item["series"])]
