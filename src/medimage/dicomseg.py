"""A label map as a DICOM Segmentation (DICOM SEG) that references the DICOM series it was computed on.

A NIfTI answer leaves the reader to work out which scan it belongs to and how its axes lie; a DICOM SEG (DICOM
PS3.3 A.51 Segmentation IOD, C.8.20 Segmentation modules) names the source instances and frames it was derived from,
so a PACS files it in the input's study and a viewer (OHIF, 3D Slicer, Weasis) draws each segment over the very
slices it was computed on, with its coded anatomy. TotalSegmentator answers the same way. highdicom builds the
object; this module decides what goes in it:

- Segmentation Storage (1.2.840.10008.5.1.4.1.1.66.4), Segmentation Type BINARY (1 bit per pixel), transfer
  syntax Explicit VR Little Endian; a new series (Modality SEG, Series Description "segserve segmentation",
  Manufacturer "segserve", Manufacturer's Model Name = the algorithm, Software Versions = its version) with fresh
  Series and SOP Instance UIDs, in the source's study and Frame of Reference; the Patient and Study modules are
  copied from the source.
- Segment Sequence (C.8.20.2): one segment per class present in the label map, numbered 1..n in class-index order
  (background, class 0, is never a segment); Segment Label = the class name; category, type and laterality
  modifier from ``medimage.anatomy``; Segment Algorithm Type AUTOMATIC; Segmentation Algorithm Identification
  (name, version, family DCM 123110 "Artificial Intelligence", CID 7162).
- frames (C.8.20.3, Per-Frame Functional Groups): one per segment and source frame where the segment has a pixel
  (empty frames are omitted), each naming its source in Derivation Image Sequence > Source Image Sequence
  (Referenced SOP Instance UID, and Referenced Frame Number for a multi-frame source), its segment in Segment
  Identification, and its place in Plane Position (Patient), copied from the source frame. Referenced Series
  Sequence lists the source series and instances.

Which source frame slice ``k`` of the label map is comes from ``medimage.dicom.slice_sources``, the function the
reader stacks its slices with, so the SEG's frames and ``read_bytes``' slices cannot disagree.

Cost: the source headers are parsed, and their pixel data never decoded. A 100-slice 512 x 512 series (a zip of
``tests.imagefiles.dicom_series``) with four organs over 40 to 80 slices each (200 SEG frames) takes 0.3 s on one
core: 0.05 s to parse and order the headers, the rest in highdicom (packing 1-bit frames); the first SEG of a
process adds 0.25 s to import highdicom (imported here, not with ``medimage``). The SEG is 6.7 MB (32 kB per
512 x 512 frame).

A source that omits what a SEG must copy is written anyway where the standard allows it: a missing Type 2
attribute (Patient's Name, Patient ID, Study Date, ...) stays empty in the SEG; a missing Study Instance UID or Frame
of Reference UID (seen in synthetic and some anonymised files) is derived from the Series Instance UID, so every SEG
of that input agrees on it; a missing or empty Slice Thickness becomes the gap between slices (highdicom cannot read
back a SEG whose Pixel Measures lack it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from medimage.anatomy import Concept, anatomy
from medimage.dicom import missing_reference, slice_sources
from medimage.errors import UnusableImage
from medimage.limits import Limits
from medimage.read import sniff, zip_members

if TYPE_CHECKING:
    from highdicom import AlgorithmIdentificationSequence
    from highdicom.seg import SegmentDescription
    from highdicom.sr import CodedConcept

U8 = npt.NDArray[np.uint8]

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
MANUFACTURER = "segserve"
SERIES_DESCRIPTION = "segserve segmentation"
SERIES_NUMBER = 1000  # after the scanner's own series numbers, so viewers list the SEG after its source
DEVICE_SERIAL_NUMBER = "0"  # Type 1 in Enhanced General Equipment (C.7.5.2); software has no serial number
# Type 2 attributes (present, possibly empty) that highdicom reads from the source: written empty when missing.
TYPE_2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def write_seg(
    data: bytes,
    labels: U8,
    classes: Sequence[str],
    *,
    algorithm: str,
    version: str,
    limits: Limits | None = None,
) -> bytes:
    """A DICOM SEG (Part 10 bytes) of ``labels``, referencing the DICOM input ``data`` it was computed on.

    Args:
        data: the input as it was read: one DICOM Part 10 file (single-frame, or an Enhanced multi-frame image)
            or a zip of one series (``pack_series``).
        labels: uint8 ``[slices, rows, cols]``, one class index per pixel, in the slice order of
            ``read_bytes(data)``: ``labels[k]`` is ``image.array[:, :, k].T`` (for a label map on the input's grid
            ``on_input``, as ``labels_to_input`` gives it, that is ``on_input.transpose(2, 1, 0)``).
        classes: class names by class index (``classes[0]`` is the background and never a segment); their codes
            come from ``medimage.anatomy``.
        algorithm, version: the model's name and version, written as the segments' algorithm and the SEG's
            Manufacturer's Model Name and Software Versions.
        limits: the bounds the input was read within (files in a series); ``Limits()`` if not given.

    Returns:
        The SEG as DICOM Part 10 bytes (Segmentation Storage, PS3.3 A.51; see the module's docstring for what is
        written).

    Raises:
        UnusableImage (422): the input is not DICOM (a SEG references DICOM instances; NIfTI and pictures are
            answered as NIfTI or PNG), the label map holds no class, or the source lacks what a SEG references
            (its Series or SOP Instance UIDs, or its geometry).
        UnreadableImage, UnsupportedImage, ImageTooLarge: as ``read_bytes(data)`` raises them.
        ValueError: ``labels`` is not uint8 of the input's shape, or holds an index with no name in ``classes``
            (the caller's error, not the input's).
    """
    limits = limits or Limits()
    sources = _sources(data, limits)
    present = _classes_present(labels, classes, sources)
    import highdicom as hd  # here: 0.25 s to import, which only a SEG answer should pay
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    datasets = _source_headers(sources)
    numbers = np.zeros(256, np.uint8)  # class index -> segment number (0: no segment)
    numbers[present] = np.arange(1, len(present) + 1)
    segments = numbers[labels]
    if len(datasets) == 1:  # one file: frames in its own frame order, whatever the slice order
        frames = np.empty_like(segments)
        frames[[index for _, index in sources]] = segments
    else:  # a series: one source image per slice, in slice order
        frames = segments
    algorithm_id = hd.AlgorithmIdentificationSequence(
        name=algorithm, version=version, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [_description(number, classes[index], algorithm_id) for number, index in enumerate(present, start=1)]
    try:
        seg = hd.seg.Segmentation(
            source_images=datasets,
            pixel_array=frames,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=SERIES_NUMBER,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=algorithm,
            software_versions=version,
            device_serial_number=DEVICE_SERIAL_NUMBER,
            series_description=SERIES_DESCRIPTION,
            omit_empty_frames=True,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # what highdicom raises on a source it rejects
        raise UnusableImage(
            f"a DICOM SEG cannot reference this input ({type(exc).__name__}: {exc}); ask for format=nifti"
        ) from exc
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


def _sources(data: bytes, limits: Limits) -> list[tuple[Any, int]]:
    """The source dataset and frame index of each slice, in the reader's slice order."""
    kind = sniff(data)
    if kind == "dicom":
        files = [("the DICOM file", data)]
    elif kind == "zip":
        files = zip_members(data, limits)
    else:
        name = "NIfTI" if kind == "nifti" else kind.upper()
        raise UnusableImage(
            f"a DICOM SEG references a DICOM series, and this input is {name}; ask for format=nifti",
            input_format=kind,
        )
    return slice_sources(files, limits)


def _classes_present(labels: U8, classes: Sequence[str], sources: list[tuple[Any, int]]) -> list[int]:
    """The class indexes ``labels`` holds, background aside, once its type and shape fit the source."""
    ds = sources[0][0]
    shape = (len(sources), int(ds.Rows), int(ds.Columns))
    if not isinstance(labels, np.ndarray) or labels.dtype != np.uint8 or labels.shape != shape:
        got = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise ValueError(
            f"labels must be uint8 [slices, rows, cols] = {shape}, the input's slices in read_bytes' order; got {got}"
        )
    present = [int(c) for c in np.unique(labels) if c]
    if present and present[-1] >= len(classes):
        raise ValueError(f"labels holds class {present[-1]}, but classes names only {len(classes)}: {list(classes)}")
    if not present:
        raise UnusableImage(
            "the label map holds no class; a DICOM SEG needs at least one segment (ask for format=nifti for an "
            "empty answer)"
        )
    return present


def _source_headers(sources: list[tuple[Any, int]]) -> list[Any]:
    """The source datasets, once each, in slice order, as highdicom takes them: pixel data dropped (only the headers
    are referenced), missing Type 2 attributes empty, a missing Study or Frame of Reference UID derived."""
    from pydicom.uid import generate_uid

    datasets = list({id(ds): ds for ds, _ in sources}.values())
    missing = missing_reference(datasets)
    if missing is not None:
        raise UnusableImage(
            f"the DICOM input has no {missing} (anonymised away?), by which a DICOM SEG references its source; "
            "ask for format=nifti"
        )
    series = str(datasets[0].SeriesInstanceUID)
    orientation = datasets[0].get("ImageOrientationPatient")
    for ds in datasets:
        if "PixelData" in ds:
            del ds.PixelData
        for keyword in TYPE_2:
            if keyword not in ds:
                setattr(ds, keyword, None)
        if "ImagePositionPatient" in ds and ds.get("SliceThickness") in (None, ""):
            ds.SliceThickness = _slice_gap(datasets)  # highdicom cannot read back a SEG without it
        for keyword, what in (("StudyInstanceUID", "study"), ("FrameOfReferenceUID", "frame of reference")):
            if not str(ds.get(keyword, "") or ""):
                setattr(ds, keyword, generate_uid(entropy_srcs=[series, what]))
        if orientation is not None and "ImageOrientationPatient" in ds:
            # the reader took these as one orientation (within 1e-3); highdicom compares them exactly
            ds.ImageOrientationPatient = orientation
    return datasets


def _slice_gap(datasets: list[Any]) -> float:
    """Millimetres between slices, as the reader spaces them: along the normal from the first slice to the second,
    else Spacing Between Slices, else 1 mm (the reader's stand-in for one slice)."""
    first = datasets[0]
    if len(datasets) > 1 and "ImageOrientationPatient" in first and "ImagePositionPatient" in datasets[1]:
        orientation = np.array([float(v) for v in first.ImageOrientationPatient])
        step = np.array([float(v) for v in datasets[1].ImagePositionPatient]) - np.array(
            [float(v) for v in first.ImagePositionPatient]
        )
        return round(abs(float(np.cross(orientation[:3], orientation[3:]) @ step)), 6)
    return abs(float(first.get("SpacingBetweenSlices") or 1.0))


def _description(number: int, name: str, algorithm_id: AlgorithmIdentificationSequence) -> SegmentDescription:
    """Segment ``number``'s item of the Segment Sequence (PS3.3 C.8.20.2) for class ``name``."""
    import highdicom as hd

    codes = anatomy(name)
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=name[:64],  # LO: 64 characters at most
        segmented_property_category=_coded(codes.category),
        segmented_property_type=_coded(codes.type),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm_id,
    )
    if codes.modifier is not None:  # nested in the type's item (C.8.20.2, Segment Description macro)
        description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            _coded(codes.modifier)
        ]
    return description


def _coded(concept: Concept) -> CodedConcept:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=concept.value, scheme_designator=concept.scheme, meaning=concept.meaning)
