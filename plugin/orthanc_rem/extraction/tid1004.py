"""PS3.16 TID 1004 "Device Observer Identifying Attributes" (included by TID 1002 Observer Context).

A dose report names the system that observed the irradiation twice: in the header's General
Equipment module and in these root rows. They usually agree, but not always: the corpus Philips
Allura Xper report has no Manufacturer's Model Name (0008,1090) in its header and names its model
only as Device Observer Model Name "Allura Xper". The skin dose engine needs the model to know the
table and positioner conventions, so the observer rows are kept with the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.records import Code
from orthanc_rem.extraction.sr import ContentItem, child_value

DEVICE_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL_NAME = Code("121015", "DCM", "Device Observer Model Name")
DEVICE_OBSERVER_SERIAL_NUMBER = Code("121016", "DCM", "Device Observer Serial Number")


@dataclass(frozen=True)
class DeviceObserver:
    """The TID 1004 rows of the report's root (all optional in practice: malformed ones are warnings)."""

    device_observer_uid: str | None = None
    device_observer_name: str | None = None
    device_observer_manufacturer: str | None = None
    device_observer_model_name: str | None = None
    device_observer_serial_number: str | None = None


def read_device_observer(root: ContentItem, warnings: list[str]) -> DeviceObserver:
    """The first of each row under the root; a report with a person observer only gives all None."""
    return DeviceObserver(
        device_observer_uid=child_value(root, DEVICE_OBSERVER_UID, sr.uid, warnings),
        device_observer_name=child_value(root, DEVICE_OBSERVER_NAME, sr.text, warnings),
        device_observer_manufacturer=child_value(root, DEVICE_OBSERVER_MANUFACTURER, sr.text, warnings),
        device_observer_model_name=child_value(root, DEVICE_OBSERVER_MODEL_NAME, sr.text, warnings),
        device_observer_serial_number=child_value(root, DEVICE_OBSERVER_SERIAL_NUMBER, sr.text, warnings),
    )
