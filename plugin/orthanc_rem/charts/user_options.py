"""Each user's chart options, stored in the database (manual 6.3 "Chart options": per user, set
by the user on the chart options page or the list pages' chart panel, and by an administrator
for any user from the user administration page).

The stored options are the defaults of the chart API (``/api/charts``) and of the chart panel: a
query parameter still wins for one request. A user without stored options has the manual's
defaults (:class:`ChartOptions` and ``DEFAULT_CHARTS``) and "Plot charts?" off, as OpenREM
creates profiles (``plotCharts`` default False): charts are computed only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts.catalogue import DEFAULT_CHARTS, charts_of
from orthanc_rem.charts.options import ChartOptions, parse_chart_options
from orthanc_rem.request_parameters import MODALITIES, BadParameter, yes_or_no


@dataclass(frozen=True)
class ModalityCharts:
    """One modality's part of the options: the charts shown, the sorting and the time period."""

    charts: tuple[str, ...]
    sort: str = ChartOptions.sort
    period: str = ChartOptions.period


def _default_modalities() -> Mapping[str, ModalityCharts]:
    return MappingProxyType({m: ModalityCharts(DEFAULT_CHARTS[m]) for m in MODALITIES})


@dataclass(frozen=True)
class UserChartOptions:
    """What one user chose: "Plot charts?", the general options (``general``; its sort and period
    are unused) and per modality the charts, sorting and period."""

    plot_charts: bool = False
    general: ChartOptions = ChartOptions()
    modalities: Mapping[str, ModalityCharts] = field(default_factory=_default_modalities)

    def options(self, modality: str) -> ChartOptions:
        """The chart options of one modality's charts."""
        chosen = self.modalities[modality]
        return replace(self.general, sort=chosen.sort, period=chosen.period)

    def charts(self, modality: str) -> tuple[str, ...]:
        return self.modalities[modality].charts

    def with_modality(self, modality: str, options: ChartOptions, charts: tuple[str, ...],
                      plot_charts: bool) -> UserChartOptions:  # fmt: skip
        """These options as the chart panel of one modality's list sets them."""
        modalities = dict(self.modalities)
        modalities[modality] = ModalityCharts(known_charts(modality, charts), options.sort, options.period)
        general = replace(options, sort=ChartOptions.sort, period=ChartOptions.period)
        return UserChartOptions(plot_charts, general, MappingProxyType(modalities))


def known_charts(modality: str, names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The names of this modality's charts among ``names``, in the catalogue's order (a chart
    renamed or removed since they were stored is dropped, not an error)."""
    wanted = set(names)
    return tuple(chart.name for chart in charts_of(modality) if chart.name in wanted)


def parse_form(form: Mapping[str, str], chosen: Mapping[str, list[str]]) -> UserChartOptions:
    """The chart options page's form: the general fields under the API's names, ``plot_charts``,
    and per modality ``<modality>_sort``, ``<modality>_period``; ``chosen`` holds per modality the
    chart names ticked (``<modality>_charts``). A bad value raises ``BadParameter``."""
    general = parse_chart_options(form)
    modalities = {}
    for modality in MODALITIES:
        prefix = modality.lower() + "_"
        own = {"sort": form.get(prefix + "sort", ""), "period": form.get(prefix + "period", "")}
        per_modality = parse_chart_options(own)
        names = chosen.get(modality, [])
        unknown = set(names) - {chart.name for chart in charts_of(modality)}
        if unknown:
            raise BadParameter(f"{modality} has no chart {sorted(unknown)[0][:40]!r}.")
        modalities[modality] = ModalityCharts(known_charts(modality, names), per_modality.sort, per_modality.period)
    plain = replace(general, sort=ChartOptions.sort, period=ChartOptions.period)
    return UserChartOptions(yes_or_no(form, "plot_charts", False), plain, MappingProxyType(modalities))


def load(session: Session, user_id: int) -> UserChartOptions:
    """The user's stored options; the defaults for what was never stored."""
    general = session.get(model.UserChartOptions, user_id)
    per_modality = model.UserModalityChartOptions
    rows = session.scalars(select(per_modality).where(per_modality.user_fk == user_id))
    stored = UserChartOptions()
    modalities = dict(stored.modalities)
    for row in rows:
        if row.modality in modalities:
            charts = known_charts(row.modality, row.charts.split())
            modalities[row.modality] = ModalityCharts(charts, row.sort, row.period)
    if general is None:
        return replace(stored, modalities=MappingProxyType(modalities))
    options = ChartOptions(
        average=general.average, descending=general.descending, series_per_system=general.series_per_system,
        case_insensitive=general.case_insensitive, histogram=general.histogram, bins=general.bins,
        normalise=general.normalise,
    )  # fmt: skip
    return UserChartOptions(general.plot_charts, options, MappingProxyType(modalities))


def load_by_name(session: Session, name: str) -> UserChartOptions:
    user_id = session.scalar(select(model.DoseBrowserUser.id).where(model.DoseBrowserUser.name == name))
    return UserChartOptions() if user_id is None else load(session, user_id)


def save(session: Session, user_id: int, chosen: UserChartOptions) -> None:
    """Store every option of the user (the caller commits)."""
    general = chosen.general
    session.merge(
        model.UserChartOptions(
            user_fk=user_id, plot_charts=chosen.plot_charts, average=general.average, descending=general.descending,
            series_per_system=general.series_per_system, case_insensitive=general.case_insensitive,
            histogram=general.histogram, bins=general.bins, normalise=general.normalise,
        )
    )  # fmt: skip
    session.execute(delete(model.UserModalityChartOptions).where(model.UserModalityChartOptions.user_fk == user_id))
    for modality, charts in chosen.modalities.items():
        session.add(model.UserModalityChartOptions(user_fk=user_id, modality=modality, charts=" ".join(charts.charts),
                                                   sort=charts.sort, period=charts.period))  # fmt: skip
    session.flush()
