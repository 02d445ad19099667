"""A fast reader for the DICOM encodings dose reports arrive in, with pydicom as the fallback.

Reading a CT dose report through pydicom costs ~12 ms, most of it in pydicom's lazy per-element
conversion (keyword lookup, hooks, value validation) and in building ``Dataset`` objects for
thousands of tiny SR content items. ``read_fast`` parses a Part 10 byte string once into a tree of
:class:`FastDataset`: per data set a dict ``tag -> (VR, raw bytes or child data sets, offset)``.
Values are converted on first read, the way pydicom converts them under its default configuration,
so the extraction code gets the same Python values from either reader.

Only what dose reports use is read: Explicit VR Little Endian, Implicit VR Little Endian and Deflated
Explicit VR Little Endian (PS3.5 A.1, A.2, A.5). Anything else - big endian, other transfer syntaxes,
a data set that does not look like its transfer syntax, a non-default pydicom configuration -
raises :class:`UnsupportedEncoding` and the caller reads the object with pydicom instead. A buffer
that ends before the data it declares raises the "truncated" :class:`ExtractionError`.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from struct import Struct
from typing import Any, cast

from pydicom import config
from pydicom.charset import convert_encodings, default_encoding, python_encoding
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.hooks import hooks, raw_element_value, raw_element_vr
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import AMBIGUOUS_VR, EXPLICIT_VR_LENGTH_32, STANDARD_VR, DSfloat

from orthanc_rem.extraction.records import ExtractionError

_ITEM, _ITEM_DELIMITER = 0xFFFEE000, 0xFFFEE00D
_UNDEFINED = 0xFFFFFFFF
#: Where pydicom's ``stop_before_pixels`` stops: Float, Double Float and (plain) Pixel Data.
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_CHARSET = 0x00080005

_EXPLICIT_HEADER = Struct("<HH2sH").unpack_from
_TAG_AND_LENGTH = Struct("<HHL").unpack_from
_LENGTH_32 = Struct("<L").unpack_from
#: Explicit VR bytes -> (VR, whether a 4-byte length follows two reserved bytes; PS3.5 7.1.2).
_EXPLICIT_VRS = {vr.encode(): (str(vr), vr in EXPLICIT_VR_LENGTH_32) for vr in STANDARD_VR}
#: Codecs that decode 7-bit bytes without ESC exactly as ASCII: for such bytes ``bytes.decode`` is
#: what ``pydicom.charset.decode_bytes`` would return. Checked, not assumed.
_PRINTABLE = bytes(b for b in range(128) if b != 0x1B)
_ASCII_TRANSPARENT = frozenset(
    codec for codec in set(python_encoding.values()) if _PRINTABLE.decode(codec) == _PRINTABLE.decode("ascii")
)


class UnsupportedEncoding(Exception):
    """The object uses an encoding or structure the fast reader leaves to pydicom."""


def read_fast(data: bytes) -> FastDataset:
    """The data set of a Part 10 file up to (not including) Pixel Data, like
    ``dcmread(..., stop_before_pixels=True)``."""
    if not _pydicom_has_default_configuration():
        raise UnsupportedEncoding("pydicom is configured to convert values differently")
    if len(data) < 132 or data[128:132] != b"DICM":
        raise UnsupportedEncoding("no Part 10 preamble and 'DICM' prefix")
    meta, position = _Parser(data).file_meta(132)
    syntax = meta.get(0x00020010)
    if syntax is None:
        if position >= len(data):
            raise _ends_early("the file meta information")
        raise UnsupportedEncoding("no Transfer Syntax UID (0002,0010)")  # pydicom guesses it
    uid = syntax[1].decode("ascii", "replace").rstrip("\0 ").strip()
    implicit = uid == ImplicitVRLittleEndian
    body, start = data, position
    if uid == DeflatedExplicitVRLittleEndian:
        try:
            body, start = zlib.decompress(data[position:], -zlib.MAX_WBITS), 0
        except zlib.error as exc:
            raise ExtractionError(f"truncated DICOM file: the deflated data set cannot be inflated ({exc})") from exc
    elif uid not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        raise UnsupportedEncoding(f"transfer syntax {uid}")
    parser = _Parser(body)
    # pydicom trusts the first element over the transfer syntax (it switches between implicit and
    # explicit VR with a warning); such a file is left to pydicom, as is a command set (group 0000).
    if len(body) >= start + 8 and (parser.looks_implicit(start) != implicit or body[start : start + 2] == b"\0\0"):
        raise UnsupportedEncoding("the data set does not look like its transfer syntax")
    try:
        root, _ = parser.data_set(start, len(body), implicit, _DEFAULT_CHARSET, top=True, delimited=False)
    except RecursionError:
        raise UnsupportedEncoding("sequences nested deeper than Python's recursion limit") from None
    root.__dict__["_fast_file"] = (data[:128], meta, implicit)
    return root


def _pydicom_has_default_configuration() -> bool:
    """The fast conversions reproduce pydicom's defaults only; anything else is read by pydicom."""
    return (
        config.settings.reading_validation_mode != config.RAISE
        and not (config.use_DS_decimal or config.use_DS_numpy or config.use_IS_numpy)
        and not config.datetime_conversion
        and config.data_element_callback is None
        and config.settings.infer_sq_for_un_vr
        and config.replace_un_with_known_vr
        and hooks.raw_element_vr is raw_element_vr
        and hooks.raw_element_value is raw_element_value
        and not hooks.raw_element_kwargs
    )


def _truncated(tag: int, length: int, missing: int) -> ExtractionError:
    """Worded as ``dicom_file._check_not_truncated`` words it for the pydicom reader."""
    return ExtractionError(
        f"truncated DICOM file: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) declares {length} bytes "
        f"but the data ends {missing} bytes early"
    )


def _ends_early(what: str) -> ExtractionError:
    return ExtractionError(f"truncated DICOM file: the data ends inside {what}")


@lru_cache(maxsize=8192)
def _implicit_vr(tag: int) -> str:
    """PS3.5 A.1: the VR of an implicit VR element is the data dictionary's; private and unknown
    elements are UN here (pydicom resolves them itself if they are ever materialised)."""
    try:
        return str(dictionary_VR(tag)) if (tag >> 16) & 1 == 0 else "UN"
    except KeyError:
        return "UN"


#: (encodings as ``pydicom.charset.convert_encodings`` gives them, whether they decode ASCII as ASCII)
Charset = tuple[str | list[str], bool]
_DEFAULT_CHARSET: Charset = (default_encoding, default_encoding in _ASCII_TRANSPARENT)


def _charset(raw: bytes, vr: str | None, implicit: bool) -> Charset:
    """Specific Character Set (0008,0005), converted by pydicom as its reader converts it."""
    element = RawDataElement(BaseTag(_CHARSET), vr, len(raw), raw, 0, implicit, True)
    encodings = convert_encodings(convert_raw_data_element(element).value)
    return encodings, encodings[0] in _ASCII_TRANSPARENT


class _Parser:
    """One pass over the buffer; every declared length is checked against the bytes present."""

    def __init__(self, buffer: bytes) -> None:
        self.buffer = buffer
        self.size = len(buffer)

    def file_meta(self, position: int) -> tuple[dict[int, tuple[str, bytes, int]], int]:
        """Group 0002, always Explicit VR Little Endian (PS3.10 7.1)."""
        meta: dict[int, tuple[str, bytes, int]] = {}
        while position + 8 <= self.size and self.buffer[position : position + 2] == b"\x02\x00":
            tag, vr, length, position = self._explicit_header(position)
            if length == _UNDEFINED or vr == "SQ":
                raise UnsupportedEncoding("sequence or undefined length in the file meta information")
            if position + length > self.size:
                raise _truncated(tag, length, position + length - self.size)
            meta[tag] = (vr, self.buffer[position : position + length], position)
            position += length
        if 0 < self.size - position < 8:
            raise _ends_early("the file meta information")
        return meta, position

    def _explicit_header(self, position: int) -> tuple[int, str, int, int]:
        """(tag, VR, length, start of the value) of an explicit VR element (PS3.5 7.1.2)."""
        group, element, vr_bytes, length = _EXPLICIT_HEADER(self.buffer, position)
        tag = (group << 16) | element
        if group == 0xFFFE:
            return tag, "", _LENGTH_32(self.buffer, position + 4)[0], position + 8
        found = _EXPLICIT_VRS.get(vr_bytes)
        if found is None:
            raise UnsupportedEncoding(f"unknown explicit VR {vr_bytes!r}")
        if not found[1]:
            return tag, found[0], length, position + 8
        if position + 12 > self.size:
            raise _ends_early(f"the header of element ({group:04X},{element:04X})")
        return tag, found[0], _LENGTH_32(self.buffer, position + 8)[0], position + 12

    def data_set(
        self, position: int, end: int, implicit: bool, charset: Charset, *, top: bool, delimited: bool
    ) -> tuple[FastDataset, int]:
        """Elements from ``position`` to ``end``; a ``delimited`` item (undefined length) ends at its
        Item Delimitation Item instead and must find one before the data ends. ``charset`` is the
        parent's, replaced by the data set's own Specific Character Set (PS3.3 C.12.1.1.2)."""
        buffer, size = self.buffer, self.size
        elements: dict[int, tuple[Any, ...]] = {}
        sequences: dict[int, list[FastDataset]] = {}
        data_set = FastDataset._create(elements, sequences, implicit, charset)
        while position < end:
            if position + 8 > size:
                raise _ends_early("an element header")
            if implicit:
                group, element, length = _TAG_AND_LENGTH(buffer, position)
                tag = (group << 16) | element
                vr = "" if group == 0xFFFE else _implicit_vr(tag)
                position += 8
            else:  # _explicit_header, inlined: this loop runs for every element of the report
                group, element, vr_bytes, length = _EXPLICIT_HEADER(buffer, position)
                tag = (group << 16) | element
                found = _EXPLICIT_VRS.get(vr_bytes)
                if found is None or found[1]:  # delimiters, 4-byte lengths, unknown VRs
                    tag, vr, length, position = self._explicit_header(position)
                else:
                    vr = found[0]
                    position += 8
            if tag >= 0x7FE00008:
                if tag == _ITEM_DELIMITER and delimited:
                    return data_set, position
                if tag >= 0xFFFE0000:
                    raise UnsupportedEncoding(f"unexpected delimiter ({tag >> 16:04X},{tag & 0xFFFF:04X})")
                if top and tag in _PIXEL_TAGS:
                    return data_set, size
            if length == _UNDEFINED:
                if vr != "SQ" and vr != "UN":
                    raise UnsupportedEncoding(f"undefined length {vr} element")
                sequences[tag], value_end = self.sequence(position, None, implicit, charset, tag)
                elements[tag] = ("SQ", sequences[tag], position, True)
                position = value_end
                continue
            value_end = position + length
            if value_end > size:
                raise _truncated(tag, length, value_end - size)
            if value_end > end:
                raise UnsupportedEncoding("an element runs past the end of its item")
            # pydicom also reads an explicit UN element as a sequence when the dictionary says SQ.
            if vr == "SQ" or (vr == "UN" and length < 0xFFFF and _implicit_vr(tag) == "SQ"):
                sequences[tag], _ = self.sequence(position, value_end, implicit, charset, tag)
                elements[tag] = ("SQ", sequences[tag], position, False)
            else:
                elements[tag] = (vr, buffer[position:value_end], position)
                if tag == _CHARSET:
                    if sequences:
                        raise UnsupportedEncoding("Specific Character Set after a sequence")
                    data_set.__dict__["_fast_parent_charset"] = charset
                    charset = _charset(buffer[position:value_end], None if implicit else vr, implicit)
                    data_set.__dict__["_fast_charset"] = charset
            position = value_end
        if delimited:
            raise _ends_early("a sequence item of undefined length (no Item Delimitation Item)")
        return data_set, position

    def sequence(
        self, position: int, end: int | None, implicit: bool, charset: Charset, tag: int
    ) -> tuple[list[FastDataset], int]:
        """The items of a sequence of defined length (``end``) or undefined length (``None``).

        In an explicit VR context pydicom looks at each item's first element and reads the item as
        implicit VR when no VR is there: that is how the implicit VR content of an undefined-length
        UN element (PS3.5 6.2.2) is read, and it is done the same way here."""
        buffer, size = self.buffer, self.size
        items: list[FastDataset] = []
        while end is None or position < end:
            if position + 8 > size:
                where = f"sequence ({tag >> 16:04X},{tag & 0xFFFF:04X})"
                raise _ends_early(f"{where} (no Sequence Delimitation Item)" if end is None else where)
            group, element, length = _TAG_AND_LENGTH(buffer, position)
            position += 8
            if group == 0xFFFE and element == 0xE0DD and end is None:
                return items, position
            if group != 0xFFFE or element != 0xE000:
                raise UnsupportedEncoding(f"({group:04X},{element:04X}) where a sequence item was expected")
            item_implicit = implicit or self.looks_implicit(position)
            if length == _UNDEFINED:
                item, position = self.data_set(position, size, item_implicit, charset, top=False, delimited=True)
                item.__dict__["_fast_delimited"] = True
            elif position + length > size:
                raise _truncated(_ITEM, length, position + length - size)
            elif end is not None and position + length > end:
                raise UnsupportedEncoding("a sequence item runs past the end of its sequence")
            else:
                item, position = self.data_set(
                    position, position + length, item_implicit, charset, top=False, delimited=False
                )
            items.append(item)
        return items, position

    def looks_implicit(self, position: int) -> bool:
        """``pydicom.filereader._is_implicit_vr``: no VR letters where the VR would be -> implicit."""
        if position + 6 > self.size:
            return False
        first, second = self.buffer[position + 4], self.buffer[position + 5]
        return not (0x40 < first < 0x5B and 0x40 < second < 0x5B)


# --- values, converted as pydicom.values converts them --------------------------------------------

_SLOW = object()  # "let pydicom convert this one"
_MISSING = object()


def _plain_text(raw: bytes, data_set: FastDataset) -> Any:
    """AS CS DA DT TM: default repertoire, may be multi-valued, trailing spaces and NULs dropped."""
    return raw.decode("ascii").rstrip(" \x00") if raw.isascii() and b"\\" not in raw else _SLOW


def _charset_text(raw: bytes, data_set: FastDataset) -> Any:
    """LO SH UC: decoded per Specific Character Set; may be multi-valued."""
    if raw.isascii() and b"\\" not in raw and b"\x1b" not in raw and data_set._fast_charset[1]:
        return raw.decode("ascii").rstrip("\x00 ")
    return _SLOW


def _charset_single_text(raw: bytes, data_set: FastDataset) -> Any:
    """LT ST UT: decoded per Specific Character Set; a backslash is text, not a separator."""
    if raw.isascii() and b"\x1b" not in raw and data_set._fast_charset[1]:
        return raw.decode("ascii").rstrip("\x00 ")
    return _SLOW


def _uid(raw: bytes, data_set: FastDataset) -> Any:
    if raw.isascii() and b"\\" not in raw:
        return str.__new__(UID, raw.decode("ascii").rstrip("\0 ").rstrip(" \x00").strip())
    return _SLOW


def _decimal_string(raw: bytes, data_set: FastDataset) -> Any:
    """The same ``DSfloat`` pydicom builds (value, ``original_string``, no auto-format), without its
    per-value validation, which only warns under the default configuration."""
    if not raw.isascii() or b"\\" in raw:
        return _SLOW
    text = raw.decode("ascii").strip().rstrip(" \x00")
    try:
        value = float.__new__(DSfloat, text)
    except ValueError:
        return _SLOW  # also "": pydicom keeps the text, or retries other VRs for a non-number
    value.original_string = text.strip()
    value.auto_format = False
    return value


def _binary(format_: str) -> Any:
    single = Struct(format_)

    def number(raw: bytes, data_set: FastDataset) -> Any:
        return single.unpack(raw)[0] if len(raw) == single.size else _SLOW

    return number


_CONVERTERS = {
    **dict.fromkeys(("AS", "CS", "DA", "DT", "TM"), _plain_text),
    **dict.fromkeys(("LO", "SH", "UC"), _charset_text),
    **dict.fromkeys(("LT", "ST", "UT"), _charset_single_text),
    **{
        vr: _binary(f"<{code}")
        for vr, code in zip(("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"), "HhLlfdqQ", strict=True)
    },
    "UI": _uid,
    "DS": _decimal_string,
}


class FastDataset(Dataset):
    """A data set read by :func:`read_fast`: reading by keyword (``.get``, attribute access, ``in``,
    ``len``) is served from the raw tree; sequences are lists of FastDatasets.

    It is a ``pydicom.Dataset`` so that code that does more than read keeps working: the first use of
    any other Dataset API (editing, ``dcmwrite``, element access by tag, iteration) turns the object,
    in place and once, into the plain ``Dataset`` (``FileDataset`` for the root) that ``dcmread``
    would have returned, with its raw elements, and pydicom takes over from there. Child data sets
    are turned over only when they are themselves touched that way.
    """

    _fast_elements: dict[int, tuple[Any, ...]]  # tag -> (VR, raw bytes or items, value offset[, undefined])
    _fast_values: dict[int, Any]  # converted values; sequences from the start
    _fast_implicit: bool
    _fast_charset: Charset  # the data set's own, else inherited from its parent

    @classmethod
    def _create(
        cls, elements: dict[int, tuple[Any, ...]], sequences: dict[int, Any], implicit: bool, charset: Charset
    ) -> FastDataset:
        data_set = object.__new__(cls)
        state = dict(_fast_elements=elements, _fast_values=sequences, _fast_implicit=implicit, _fast_charset=charset)
        object.__setattr__(data_set, "__dict__", state)
        return data_set

    def get(self, key: Any, default: Any = None) -> Any:
        if type(key) is str:
            tag = keyword_dict.get(key)
            if tag is not None:
                value = self._fast_values.get(tag, _MISSING)
                if value is not _MISSING:
                    return value
                return self._value(tag) if tag in self._fast_elements else default
        self._materialise()
        return self.get(key, default)

    def __getattr__(self, name: str) -> Any:
        tag = keyword_dict.get(name)
        if tag is not None:
            if tag not in self._fast_elements:
                raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
            value = self._fast_values.get(tag, _MISSING)
            return self._value(tag) if value is _MISSING else value
        if name.startswith("_fast"):
            raise AttributeError(name)  # not set up (copy/pickle protocols): never recurse
        self._materialise()
        return getattr(self, name)

    def __contains__(self, name: Any) -> bool:
        if type(name) is str:
            tag = keyword_dict.get(name)
            if tag is not None:
                return tag in self._fast_elements
        elif isinstance(name, int):
            return name in self._fast_elements
        self._materialise()
        return name in self

    def __len__(self) -> int:
        return len(self._fast_elements)

    def _value(self, tag: int) -> Any:
        """Convert on first read and keep the result, as pydicom does."""
        vr, raw, _ = self._fast_elements[tag]
        if vr == "UN" and len(raw) < 0xFFFF:  # pydicom's raw_element_vr: the dictionary VR of a public tag
            vr = _implicit_vr(tag)
        if vr == "UN" or vr in AMBIGUOUS_VR:
            # The VR depends on the private creator or on Pixel Representation.
            self._materialise()
            return self[tag].value
        converter = _CONVERTERS.get(vr)
        value = (converter(raw, self) if converter is not None else _SLOW) if raw else empty_value_for_VR(vr)
        if value is _SLOW:
            element = RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, self._fast_implicit, True)
            value = convert_raw_data_element(element, encoding=self._fast_charset[0], ds=None).value
        self._fast_values[tag] = value
        return value

    def _materialise(self) -> None:
        """Become the pydicom Dataset ``dcmread`` would have built (see the class docstring)."""
        state = self.__dict__
        if "_fast_elements" not in state:
            raise AttributeError("_fast_elements")
        encodings = state["_fast_charset"][0]
        parent_encodings = state.get("_fast_parent_charset", state["_fast_charset"])[0]
        implicit = state["_fast_implicit"]
        elements = {
            BaseTag(tag): _pydicom_element(tag, entry, implicit) for tag, entry in state["_fast_elements"].items()
        }
        file, delimited = state.get("_fast_file"), state.get("_fast_delimited", False)
        for name in [name for name in state if name.startswith("_fast_")]:
            del state[name]
        if file is None:
            object.__setattr__(self, "__class__", Dataset)
            Dataset.__init__(self, elements, parent_encoding=parent_encodings)
        else:
            preamble, meta, implicit = file
            file_meta = FileMetaDataset(
                {BaseTag(tag): _pydicom_element(tag, entry, False) for tag, entry in meta.items()}
            )
            object.__setattr__(self, "__class__", FileDataset)
            FileDataset.__init__(self, None, elements, preamble, file_meta, implicit, True)  # type: ignore[arg-type]
        self.set_original_encoding(implicit, True, encodings)
        self.is_undefined_length_sequence_item = delimited


def _pydicom_element(tag: int, entry: tuple[Any, ...], implicit: bool) -> RawDataElement | DataElement:
    """What pydicom's reader stores for an element: raw bytes (VR left to pydicom's dictionary lookup
    for implicit VR), or an already-built sequence, remembering whether its length was undefined."""
    vr, value, offset = entry[:3]
    if vr == "SQ":
        sequence = Sequence(value)
        sequence.is_undefined_length = entry[3]
        return DataElement(BaseTag(tag), "SQ", sequence, offset, is_undefined_length=entry[3])
    vr = None if implicit else vr
    stored = value or cast("bytes | None", empty_value_for_VR(vr, raw=True))  # as pydicom's reader stores it
    return RawDataElement(BaseTag(tag), vr, len(value), stored, offset, implicit, True)
