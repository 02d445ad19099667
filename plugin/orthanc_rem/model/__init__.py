"""The dose database: SQLAlchemy 2 typed models, one module per template family.

Tables follow DICOM: header modules of PS3.3 (``common``), the CT Radiation Dose tree of PS3.16
TID 10011 (``ct``) and the Projection X-Ray Radiation Dose tree of TID 10001 (``projection``).
Coded values keep code value, coding scheme and meaning (``x_value``, ``x_scheme``,
``x_meaning`` columns). Schema changes go through Alembic (``orthanc_rem/migrations``), never
``create_all`` on a user's database.
"""

from orthanc_rem.model.chart_rows import CtChartEvent
from orthanc_rem.model.chart_settings import UserChartOptions, UserModalityChartOptions
from orthanc_rem.model.common import (
    Base,
    Equipment,
    ExtractionWarning,
    IngestState,
    Patient,
    ProcessedObject,
    RejectedObject,
    Study,
)
from orthanc_rem.model.ct import CtDoseCheck, CtIrradiationEvent, CtRadiationDose, CtXRaySource
from orthanc_rem.model.export_job import ExportJob
from orthanc_rem.model.login_sessions import FailedLogin, LoginSession
from orthanc_rem.model.projection import (
    AccumulatedMammographyDose,
    AccumulatedXRayDose,
    ImageViewModifier,
    ProjectionIrradiationEvent,
    ProjectionXRayRadiationDose,
    XRayCalibration,
    XRayDetector,
    XRayFilter,
    XRayGrid,
    XRayMechanical,
    XRaySource,
)
from orthanc_rem.model.qr import QrLogLine, QrNode, QrQuery, QrResult, QrRetrievedObject, QrSchedule
from orthanc_rem.model.settings import ImportSettings, NotPatientPattern
from orthanc_rem.model.size_import import SizeImportFile, SizeImportJob
from orthanc_rem.model.skin_dose import SkinDoseDevice, SkinDoseMap
from orthanc_rem.model.summaries import StudyTotals, SystemStudyCount
from orthanc_rem.model.users import DoseBrowserUser

__all__ = [
    "AccumulatedMammographyDose",
    "AccumulatedXRayDose",
    "Base",
    "CtChartEvent",
    "CtDoseCheck",
    "CtIrradiationEvent",
    "CtRadiationDose",
    "CtXRaySource",
    "DoseBrowserUser",
    "Equipment",
    "ExportJob",
    "FailedLogin",
    "LoginSession",
    "ExtractionWarning",
    "ImageViewModifier",
    "ImportSettings",
    "IngestState",
    "NotPatientPattern",
    "Patient",
    "ProcessedObject",
    "ProjectionIrradiationEvent",
    "ProjectionXRayRadiationDose",
    "QrLogLine",
    "QrNode",
    "QrQuery",
    "QrResult",
    "QrRetrievedObject",
    "QrSchedule",
    "RejectedObject",
    "SizeImportFile",
    "SizeImportJob",
    "SkinDoseDevice",
    "SkinDoseMap",
    "Study",
    "StudyTotals",
    "SystemStudyCount",
    "UserChartOptions",
    "UserModalityChartOptions",
    "XRayCalibration",
    "XRayDetector",
    "XRayFilter",
    "XRayGrid",
    "XRayMechanical",
    "XRaySource",
]
