"""medimage: the one image contract of the medical half, without torch.

Training (``freqseg``) and serving (``segserve``) must feed a model the same numbers for the same scan, or the
service answers differently from the evaluation that vouched for the model. So reading (NIfTI, DICOM files, series
and Enhanced multi-frame, PNG, JPEG), geometry (affine, spacing, orientation to RAS+), intensity (Modality LUT,
window) and the model grid (resampling, padding, the exact inverse) live here once, with the limits that bound
what an image may cost and the model file's metadata contract. ``docs/medimage.md`` lists what is read from which
header field.

    >>> from medimage import Limits, ModelSpec, read_path, to_model
    >>> spec = ModelSpec(classes=("background", "liver"), window=(-175.0, 250.0), spacing=(1.5, 1.5), stride=16)
    >>> planes = to_model(read_path("ct.nii.gz"), spec, Limits()).planes  # doctest: +SKIP
"""

from medimage.components import POSTPROCESSING, postprocess
from medimage.cpus import available_cpus, in_slabs
from medimage.dicomseg import write_seg
from medimage.display import PLANES, Volume
from medimage.errors import ImageError, ImageTooLarge, UnreadableImage, UnsupportedImage, UnusableImage
from medimage.geometry import canonical
from medimage.grid import ModelInput, labels_to_input, labels_to_model, pad_to_stride, pair_labels, to_model
from medimage.image import FORMATS, Image
from medimage.intensity import WINDOWS, level_width, window
from medimage.limits import Limits
from medimage.modelfile import INPUT_NAME, OUTPUT_NAME, PREFIX, ModelFileError, ModelSpec
from medimage.nifti import write_nifti
from medimage.picture import encode_png
from medimage.read import pack_series, read_bytes, read_files, read_path, sniff

__all__ = [
    "FORMATS",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "PLANES",
    "POSTPROCESSING",
    "PREFIX",
    "WINDOWS",
    "Image",
    "ImageError",
    "ImageTooLarge",
    "Limits",
    "ModelFileError",
    "ModelInput",
    "ModelSpec",
    "UnreadableImage",
    "UnsupportedImage",
    "UnusableImage",
    "Volume",
    "available_cpus",
    "canonical",
    "encode_png",
    "in_slabs",
    "labels_to_input",
    "labels_to_model",
    "level_width",
    "pack_series",
    "pad_to_stride",
    "pair_labels",
    "postprocess",
    "read_bytes",
    "read_files",
    "read_path",
    "sniff",
    "to_model",
    "window",
    "write_nifti",
    "write_seg",
]
