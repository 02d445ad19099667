"""How a chart is drawn: the manual's chart options (feature inventory part 1 §8.3), read from
query parameters and checked like the list filters (a bad value raises ``BadParameter``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orthanc_rem.study_filters import BadParameter, whole_number, yes_or_no

AVERAGES = ("mean", "median", "both")
SORTS = ("value", "frequency", "name")
PERIODS = ("day", "week", "month", "year")
#: The manual's limits on the number of histogram bins.
BINS = range(2, 41)


@dataclass(frozen=True)
class ChartOptions:
    """Defaults as the manual's chart options (figure 13, L5336-5340; the source's defaults agree):
    the mean, histograms of 20 bins, a series per system, case-sensitive categories, frequency
    sorting in descending order, months for charts over time. A user's stored options replace them
    (``charts.user_options``); query parameters replace those."""

    average: str = "mean"
    sort: str = "frequency"
    descending: bool = True
    series_per_system: bool = True
    case_insensitive: bool = False
    histogram: bool = True
    bins: int = 20
    normalise: bool = False
    period: str = "month"

    @property
    def sort_average(self) -> str:
        """The average bars are sorted by: the median when both are shown (as the manual's charts)."""
        return "mean" if self.average == "mean" else "median"


def _choice(parameters: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    text = (parameters.get(name) or "").strip().lower()
    if not text:
        return default
    if text not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}, not {text[:40]!r}.")
    return text


def parse_chart_options(parameters: Mapping[str, str], defaults: ChartOptions | None = None) -> ChartOptions:
    """Chart options from query parameters (names as the fields; ``direction`` is asc or desc);
    an absent parameter keeps its value in ``defaults`` (the user's stored options)."""
    defaults = defaults or ChartOptions()
    bins = whole_number(parameters, "bins", defaults.bins)
    if bins not in BINS:
        raise BadParameter(f"bins must be between {BINS.start} and {BINS.stop - 1}, not {bins}.")
    direction = _choice(parameters, "direction", ("asc", "desc"), "desc" if defaults.descending else "asc")
    return ChartOptions(
        average=_choice(parameters, "average", AVERAGES, defaults.average),
        sort=_choice(parameters, "sort", SORTS, defaults.sort),
        descending=direction == "desc",
        series_per_system=yes_or_no(parameters, "series_per_system", defaults.series_per_system),
        case_insensitive=yes_or_no(parameters, "case_insensitive", defaults.case_insensitive),
        histogram=yes_or_no(parameters, "histogram", defaults.histogram),
        bins=bins,
        normalise=yes_or_no(parameters, "normalise", defaults.normalise),
        period=_choice(parameters, "period", PERIODS, defaults.period),
    )
