"""What each class of a label map is, in the codes a DICOM Segmentation says it with.

A DICOM SEG names each segment twice: a free-text label, and coded concepts that a viewer, a PACS or a registry can
act on without reading English (DICOM PS3.3 C.8.20.2, Segment Description macro): a Segmented Property Category
(DICOM PS3.16 CID 7150 Segmentation Property Categories) and a Segmented Property Type (CID 7151 Segmentation
Property Types; the abdominal organs also in CID 7154), both SNOMED CT concepts (coding scheme ``SCT``). Laterality
is not a separate concept in CID 7151: a right kidney is ``Kidney`` with a Segmented Property Type Modifier
``Right`` (CID 244 Laterality), as CID 7151's own entries are meant to be qualified.

Every code here is the one in pydicom's copy of PS3.16 (``pydicom.sr.codedict.codes``; the tests check each one
against it). Two choices differ from older writers (dcmqi's and TotalSegmentator's mappings):

- the category is ``Anatomical Structure`` SCT 91723000, CID 7150's current code; SCT 123037004 (from the
  retired SNOMED RT ``T-D000A``) is what SNOMED now calls "Body structure", and is no longer in CID 7150.
- right and left kidney and adrenal gland are the organ plus a laterality modifier, not the pre-coordinated
  SNOMED concepts (e.g. 9846003 "Right kidney structure"), which CID 7151 does not list.

A class name not listed here is still written: as ``Tissue`` (SCT 85756007, in both CID 7150 and CID 7151), its
segment label keeping the class name.
"""

from __future__ import annotations

from typing import NamedTuple


class Concept(NamedTuple):
    """A coded concept (DICOM PS3.3 Table 8.8-1, Code Sequence macro)."""

    value: str  # Code Value (0008,0100)
    scheme: str  # Coding Scheme Designator (0008,0102)
    meaning: str  # Code Meaning (0008,0104)


class Anatomy(NamedTuple):
    """How one class is described in a DICOM SEG's Segment Sequence (PS3.3 C.8.20.2)."""

    category: Concept  # Segmented Property Category Code Sequence (0062,0003), CID 7150
    type: Concept  # Segmented Property Type Code Sequence (0062,000F), CID 7151
    modifier: Concept | None = None  # Segmented Property Type Modifier Code Sequence (0062,0011), CID 244


ANATOMICAL_STRUCTURE = Concept("91723000", "SCT", "Anatomical Structure")
TISSUE = Concept("85756007", "SCT", "Tissue")
RIGHT = Concept("24028007", "SCT", "Right")
LEFT = Concept("7771000", "SCT", "Left")

KIDNEY = Concept("64033007", "SCT", "Kidney")
ADRENAL_GLAND = Concept("23451007", "SCT", "Adrenal gland")


def _organ(value: str, meaning: str, modifier: Concept | None = None) -> Anatomy:
    return Anatomy(ANATOMICAL_STRUCTURE, Concept(value, "SCT", meaning), modifier)


ANATOMY: dict[str, Anatomy] = {
    # the bundled model's classes (the BTCV organs, esophagus aside)
    "spleen": _organ("78961009", "Spleen"),
    "kidney_right": Anatomy(ANATOMICAL_STRUCTURE, KIDNEY, RIGHT),
    "kidney_left": Anatomy(ANATOMICAL_STRUCTURE, KIDNEY, LEFT),
    "gallbladder": _organ("28231008", "Gallbladder"),
    "liver": _organ("10200004", "Liver"),
    "stomach": _organ("69695003", "Stomach"),
    "aorta": _organ("15825003", "Aorta"),
    "inferior_vena_cava": _organ("64131007", "Inferior vena cava"),
    # one class covers both veins; coded as the portal vein, the larger part (CID 7151 has no combined concept)
    "portal_vein_and_splenic_vein": _organ("32764006", "Portal vein"),
    "pancreas": _organ("15776009", "Pancreas"),
    "adrenal_gland_right": Anatomy(ANATOMICAL_STRUCTURE, ADRENAL_GLAND, RIGHT),
    "adrenal_gland_left": Anatomy(ANATOMICAL_STRUCTURE, ADRENAL_GLAND, LEFT),
    # other abdominal organs, under TotalSegmentator's class names
    "esophagus": _organ("32849002", "Esophagus"),
    "duodenum": _organ("38848004", "Duodenum"),
    "small_bowel": _organ("30315005", "Small intestine"),
    "colon": _organ("71854001", "Colon"),
    "urinary_bladder": _organ("89837001", "Bladder"),
}

UNKNOWN = Anatomy(TISSUE, TISSUE)


def anatomy(name: str) -> Anatomy:
    """The codes of class ``name`` (a model's class name, e.g. ``"kidney_right"``); ``Tissue`` for a name not
    listed in ``ANATOMY``, so every class can be written."""
    return ANATOMY.get(name, UNKNOWN)
