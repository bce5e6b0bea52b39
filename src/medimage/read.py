"""Every way an image arrives, to one ``Image``: bytes of one file, several files, a zip, or a path.

The format is taken from the first bytes (content types and file names lie; magic numbers rarely do): PNG and
JPEG signatures, DICOM Part 10's ``DICM`` at byte 128, a NIfTI header's ``sizeof_hdr``, gzip for ``.nii.gz``, and
a zip's local file header. A zip or a set of files is read as one DICOM series; a zip is never extracted to disk,
and its members are read within the limits their own headers declare.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from medimage.dicom import is_dicom, read_dicom
from medimage.errors import ImageError, ImageTooLarge, UnreadableImage, UnsupportedImage
from medimage.image import FORMATS, Image
from medimage.inflate import GZIP_MAGIC
from medimage.limits import Limits
from medimage.nifti import is_nifti, read_nifti
from medimage.picture import picture_format, read_picture

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty zip's end of central directory


def sniff(data: bytes) -> str:
    """``"png"``, ``"jpeg"``, ``"dicom"``, ``"nifti"`` or ``"zip"`` from the first bytes; else UnsupportedImage."""
    kind = picture_format(data)
    if kind:
        return kind
    if is_dicom(data):
        return "dicom"
    if data.startswith(GZIP_MAGIC) or is_nifti(data[:4]):
        return "nifti"  # gzip is accepted for NIfTI only; the header check confirms it
    if data.startswith(ZIP_MAGICS):
        return "zip"
    raise UnsupportedImage(
        f"the body is not a PNG, JPEG, DICOM (Part 10, with 'DICM' at byte 128), NIfTI (.nii or .nii.gz) file or a "
        f"zip of a DICOM series (it starts {data[:16]!r}); send one of those",
        valid=[*FORMATS, "zip"],
    )


def read_bytes(data: bytes, limits: Limits | None = None) -> Image:
    """One uploaded body: a picture, a DICOM file, a NIfTI file or a zip holding one DICOM series."""
    limits = limits or Limits()
    if not data:
        raise UnreadableImage("the body is empty; send an image (PNG, JPEG, DICOM, NIfTI or a zipped DICOM series)")
    kind = sniff(data)
    if kind in ("png", "jpeg"):
        return read_picture(data, limits)
    if kind == "dicom":
        return read_dicom([("the DICOM file", data)], limits)
    if kind == "zip":
        return read_dicom(zip_members(data, limits), limits)
    return read_nifti(data, limits)


def read_files(files: Sequence[tuple[str, bytes]], limits: Limits | None = None) -> Image:
    """Several uploaded files: one DICOM series (one file of any format is read as ``read_bytes`` reads it)."""
    limits = limits or Limits()
    if len(files) == 1:
        return read_bytes(files[0][1], limits)
    if not files:
        raise UnreadableImage("no file was given; send an image or the files of one DICOM series")
    limits.check_files(len(files))
    others = [name for name, data in files if not is_dicom(data)]
    if others:
        raise UnreadableImage(
            f"{others[0]} is not a DICOM file; several files are read as one DICOM series (send other formats alone)"
        )
    return read_dicom(files, limits)


def zip_members(data: bytes, limits: Limits) -> list[tuple[str, bytes]]:
    """The DICOM files inside a zip (other members, such as DICOMDIR or a README, are skipped), read within the
    limits: member count, and the sizes the members declare, checked before anything is inflated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableImage(f"the zip cannot be read ({exc}); send it whole") from exc
    limits.check_files(len(entries))
    for entry in entries:
        parts = entry.filename.replace("\\", "/").split("/")
        if entry.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise UnreadableImage(f"the zip member {entry.filename!r} has a path that climbs out of the archive")
    budget = limits.max_voxels * 4 + len(entries) * (1 << 16)
    declared = sum(e.file_size for e in entries)
    if declared > budget:
        raise ImageTooLarge(f"the zip declares {declared} bytes once inflated, over the budget of {budget} bytes")
    members = []
    for entry in entries:
        try:
            with archive.open(entry) as member:
                head = member.read(132)
                if not is_dicom(head):
                    continue
                members.append((entry.filename, head + member.read(entry.file_size - len(head))))
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError) as exc:
            raise UnreadableImage(f"the zip member {entry.filename!r} cannot be read ({exc})") from exc
    if not members:
        raise UnreadableImage("the zip holds no DICOM file (Part 10, with 'DICM' at byte 128); zip one series")
    return members


def pack_series(files: Sequence[tuple[str, bytes]]) -> bytes:
    """Several uploaded files as one zip (stored, members in name order, fixed timestamps): the form a DICOM series
    travels and is cached in as one input, since the same files always give the same bytes. ``read_bytes`` reads
    it back as a series.

    Raises:
        UnreadableImage (400): a file that is not DICOM (a series upload holds DICOM files only; a zip member that
            is not DICOM, such as a README, is skipped when reading, but an uploaded file is never dropped unseen).
    """
    others = [name for name, data in files if not is_dicom(data)]
    if others:
        raise UnreadableImage(
            f"{others[0]!r} is not a DICOM file (no 'DICM' at byte 128); several files are read as one DICOM "
            "series: send other formats alone"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number, (name, data) in enumerate(sorted(files, key=lambda f: (f[0], f[1][:64]))):
            safe = name.replace("\\", "/").rsplit("/", 1)[-1] or "file"
            archive.writestr(zipfile.ZipInfo(f"{number:05d}-{safe}", date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def read_path(path: str | os.PathLike[str], limits: Limits | None = None) -> Image:
    """A file (any format ``read_bytes`` takes) or a folder holding one DICOM series (non-DICOM files skipped).

    Raises the same errors as ``read_bytes``, each message starting with the path.
    """
    limits = limits or Limits()
    p = Path(path)
    try:
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file())
            limits.check_files(len(files))
            series = [(str(f), f.read_bytes()) for f in files]
            series = [(name, data) for name, data in series if is_dicom(data)]
            if not series:
                raise UnreadableImage("the folder holds no DICOM file")
            return read_files(series, limits)
        if not p.exists():
            raise UnreadableImage("no such file or folder")
        return read_bytes(p.read_bytes(), limits)
    except ImageError as exc:
        raise type(exc)(f"{p}: {exc.message}", **exc.detail) from exc
