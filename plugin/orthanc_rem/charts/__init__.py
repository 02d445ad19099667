"""Charts of the filtered studies, per modality, as OpenREM 0.8.1 draws them (feature inventory
part 1 §8, part 2 §10): which charts exist (``catalogue``), the rows each one aggregates
(``sources``), the statistics computed by the database (``statistics``), the options
(``options``) and the document the API returns (``chart_document``). No Flask here.
"""

from orthanc_rem.charts.catalogue import CHARTS, DEFAULT_CHARTS, Chart, chart, charts_of
from orthanc_rem.charts.chart_document import chart_data, drilldown
from orthanc_rem.charts.options import ChartOptions, parse_chart_options

__all__ = [
    "CHARTS",
    "DEFAULT_CHARTS",
    "Chart",
    "ChartOptions",
    "chart",
    "chart_data",
    "charts_of",
    "drilldown",
    "parse_chart_options",
]
