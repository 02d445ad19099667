"""Reading a DICOM object from bytes or a file, up to (not including) pixel data.

Two readers: ``fast_dataset`` for the Part 10 encodings dose reports use, and pydicom's ``dcmread``
for everything else (and on demand, ``READER = "pydicom"``, to compare the two). Both refuse a
file cut short, because pydicom reads a truncated sequence silently.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.fast_dataset import UnsupportedEncoding, read_fast
from orthanc_rem.extraction.records import ExtractionError

#: The reader ``read_dicom_file`` uses unless told otherwise: "fast" (``fast_dataset``, with pydicom
#: for the encodings it leaves alone) or "pydicom" (``dcmread`` only).
READER = "fast"


def read_dicom_file(source: bytes | bytearray | str | os.PathLike[str], *, reader: str | None = None) -> Dataset:
    """Parse a DICOM object up to (not including) pixel data.

    The fast reader takes Part 10 files in the encodings dose reports use and returns a
    :class:`~orthanc_rem.extraction.fast_dataset.FastDataset`, a pydicom Dataset whose values are
    read without pydicom's per-element machinery (extraction is 6-8x faster); everything else goes
    to ``dcmread``. There, ``force=True`` is used only for data that starts with a group 0002/0008
    tag: a data set written without the Part 10 preamble, which old archives and some gateways
    produce. A file cut short is detected by comparing declared element lengths with the bytes
    present (both readers), because pydicom reads a truncated sequence silently.
    """
    data = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    reader = reader or READER
    if reader not in ("fast", "pydicom"):
        raise ValueError(f"reader must be 'fast' or 'pydicom', not {reader!r}")
    try:
        ds = read_fast(data) if reader == "fast" else _read_with_pydicom(data)
    except UnsupportedEncoding:
        ds = _read_with_pydicom(data)
    if sr.dataset_text(ds, "SOPClassUID") is None:
        raise ExtractionError("not a DICOM object: no SOP Class UID (0008,0016) (truncated or not DICOM)")
    return ds


def _read_with_pydicom(data: bytes) -> Dataset:
    try:
        ds = _parse(data, force=False)
    except InvalidDicomError as exc:
        if not _starts_like_a_data_set(data):
            raise ExtractionError("not a DICOM file: no 'DICM' prefix and no DICOM data set at the start") from exc
        ds = _parse(data, force=True)
    _check_not_truncated(ds, _data_set_size(ds, data))
    return ds


def _data_set_size(ds: Dataset, data: bytes) -> int:
    """The size element offsets count in: for Deflated Explicit VR Little Endian (PS3.5 A.5) that is
    the inflated data set, which pydicom keeps as the buffer it read from."""
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None and file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return len(ds.buffer.getvalue())
    return len(data)


def _parse(data: bytes, *, force: bool) -> Dataset:
    try:
        return dcmread(io.BytesIO(data), stop_before_pixels=True, force=force)
    except InvalidDicomError:
        if force:
            raise ExtractionError("not a DICOM file") from None
        raise
    except Exception as exc:  # any parser failure on untrusted bytes means "not readable DICOM"
        raise ExtractionError(f"not a DICOM file, or truncated: {type(exc).__name__}: {exc}") from exc


def _starts_like_a_data_set(data: bytes) -> bool:
    """Little-endian group 0002 or 0008 tag at offset 0: a data set without Part 10 preamble."""
    return len(data) >= 8 and struct.unpack("<H", data[:2])[0] in (0x0002, 0x0008)


def _check_not_truncated(ds: Dataset, size: int) -> None:
    for tag in list(ds.keys()):
        element = ds.get_item(tag)
        if not isinstance(element, RawDataElement) or element.length == 0xFFFFFFFF:
            continue
        end = element.value_tell + element.length
        if end > size:
            raise ExtractionError(
                f"truncated DICOM file: element {tag} declares {element.length} bytes "
                f"but the data ends {end - size} bytes early"
            )
