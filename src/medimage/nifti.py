"""NIfTI-1 and NIfTI-2 (.nii, .nii.gz), read and written with nibabel.

What is read from where (NIfTI-1 header, nifti1.h; NIfTI-2 the same fields, wider):

- dimensions ``dim[1..3]``, data type ``datatype``/``bitpix`` and ``vox_offset``: checked against the limits and
  against the bytes present before any voxel is read; a ``.nii.gz`` is inflated only up to what the header
  declares (``vox_offset + voxels * bitpix / 8``), so a small file that inflates to gigabytes costs its header.
- geometry: the method the header selects (NIfTI-1 section "3D IMAGE (VOLUME) ORIENTATION AND LOCATION IN SPACE"):
  method 3, the sform, when ``sform_code > 0``; else method 2, the qform (quaternion, ``pixdim[0]`` = qfac), when
  ``qform_code > 0``; else method 1, ``diag(pixdim[1..3])``. A declared transform that is broken (NaN, all zero,
  singular) falls back to the other declared one (``detail["affine_source"]`` says which was used); when every
  declared one is broken the file is refused. Spacing comes from the transform used, not separately from
  ``pixdim``.
- intensity: ``scl_slope``/``scl_inter`` applied by nibabel (slope 0 means none, as the standard says). NIfTI
  does not say what modality it holds: values are taken as the model's (Hounsfield units for a CT model).
"""

from __future__ import annotations

import gzip
import io
from typing import Any

import numpy as np
import numpy.typing as npt

from medimage.errors import UnreadableImage, UnsupportedImage
from medimage.image import F64, Image, checked_affine
from medimage.inflate import GZIP_MAGIC, BoundedInflater
from medimage.limits import Limits

HEADER_BYTES = {348: 1, 540: 2}  # sizeof_hdr -> NIfTI version


def is_nifti(head: bytes) -> bool:
    """An uncompressed NIfTI-1 or -2 header: sizeof_hdr 348 or 540, in either byte order."""
    return len(head) >= 4 and (
        int.from_bytes(head[:4], "little") in HEADER_BYTES or int.from_bytes(head[:4], "big") in HEADER_BYTES
    )


def _header(head: bytes) -> Any:
    import nibabel as nib

    if not is_nifti(head):
        raise UnreadableImage("the body is not a NIfTI file: its first four bytes are not sizeof_hdr 348 or 540")
    size = int.from_bytes(head[:4], "little")
    version = HEADER_BYTES.get(size) or HEADER_BYTES[int.from_bytes(head[:4], "big")]
    klass = nib.Nifti1Header if version == 1 else nib.Nifti2Header
    need = 348 if version == 1 else 540
    if len(head) < need:
        raise UnreadableImage(
            f"the NIfTI-{version} header is cut short ({len(head)} of {need} bytes); send the whole file"
        )
    try:
        return klass.from_fileobj(io.BytesIO(head[:need]), check=True)
    except Exception as exc:  # nibabel's HeaderDataError, ValueError and others for a damaged header
        raise UnreadableImage(f"the NIfTI header is damaged ({type(exc).__name__}: {exc})") from exc


def _declared(header: Any, limits: Limits) -> tuple[tuple[int, ...], int]:
    """The image shape and the byte length the header declares (vox_offset included), checked against limits."""
    dims = [int(d) for d in header["dim"]]
    ndim = dims[0]
    if not 1 <= ndim <= 7 or any(d < 1 for d in dims[1 : ndim + 1]):
        raise UnreadableImage(f"the NIfTI header's dim field {dims[: ndim + 1]} is not a valid shape")
    shape = tuple(dims[1 : ndim + 1])
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) not in (2, 3):
        raise UnreadableImage(f"the NIfTI array has shape {shape}; send a 2-D slice or a 3-D volume")
    try:
        dtype = header.get_data_dtype()
    except Exception as exc:
        raise UnsupportedImage(f"the NIfTI data type code {int(header['datatype'])} is not one nibabel knows") from exc
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise UnsupportedImage(
            f"the NIfTI data type {dtype} is not a grey-level one; send integer or floating-point voxels"
        )
    limits.check_plane("NIfTI slice", shape[0], shape[1])
    limits.check_voxels("NIfTI volume", shape)
    voxels = int(np.prod(shape, dtype=np.int64))
    offset = max(int(header.get_data_offset()), int(header.sizeof_hdr))
    return shape, offset + voxels * dtype.itemsize


def read_nifti(data: bytes, limits: Limits) -> Image:
    """A NIfTI-1 or -2 file (raw or gzip-compressed) as an ``Image``; see the module for the fields used.

    Raises:
        UnreadableImage (400): not NIfTI, damaged header, fewer bytes than declared, broken geometry.
        UnsupportedImage (415): complex, RGB or other non-grey data types.
        ImageTooLarge (413): a shape over ``limits``.
    """
    import nibabel as nib

    inflater = BoundedInflater(data, what="the .nii.gz's gzip stream") if data.startswith(GZIP_MAGIC) else None
    head = inflater.inflate_to(540) if inflater else data[:540]
    header = _header(head)
    shape, declared = _declared(header, limits)
    body = inflater.inflate_to(declared) if inflater else data[:declared]
    if len(body) < declared:
        where = "inflates to" if inflater else "holds"
        raise UnreadableImage(
            f"the NIfTI header declares {declared} bytes (shape {shape}, {header.get_data_dtype()}) but the file "
            f"{where} {len(body)}; the file is truncated: send it whole"
        )
    klass = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    try:
        image = klass.from_bytes(body)
        array = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    except Exception as exc:  # nibabel raises many kinds for inconsistent files
        raise UnreadableImage(f"the NIfTI data cannot be read ({type(exc).__name__}: {exc})") from exc
    affine, source = _affine(image.header)
    if array.ndim == 2:
        array = array[:, :, None]
    return Image(
        array=array,
        affine=affine,
        format="nifti",
        modality=None,
        intensity="raw",
        spacing_source="nifti",
        detail={"version": 2 if isinstance(image, nib.Nifti2Image) else 1, "affine_source": source, "ndim": len(shape)},
    )


def _affine(header: Any) -> tuple[F64, str]:
    """The voxel-to-RAS transform by the method the header selects: the sform, else the qform, else pixdim when
    neither is declared. A declared transform that is broken falls back to the other declared one; when every
    declared one is broken the file is refused (pixdim alone does not say the orientation)."""
    declared = []
    if int(header["sform_code"]) > 0:
        declared.append(("sform", header.get_sform))
    if int(header["qform_code"]) > 0:
        declared.append(("qform", header.get_qform))
    candidates = declared or [("pixdim", header.get_base_affine)]
    broken = []
    for name, make in candidates:
        try:
            with np.errstate(all="ignore"):
                return checked_affine(make(), f"NIfTI {name}"), name
        except UnreadableImage as exc:
            broken.append(exc.message)
        except Exception as exc:  # a quaternion nibabel cannot turn into a rotation, say
            broken.append(f"the NIfTI {name} cannot be computed ({exc})")
    raise UnreadableImage("; ".join(broken))


def write_nifti(array: npt.NDArray[Any], affine: npt.ArrayLike, description: str = "", compress: bool = True) -> bytes:
    """A NIfTI-1 file of ``array`` (its dtype kept) on ``affine`` (voxel -> RAS+ mm): both the sform and the qform
    set (code 2, aligned), units mm; gzip level 1 without a timestamp when ``compress`` (a .nii.gz), else a .nii.
    What viewers and nibabel read back unchanged."""
    import nibabel as nib

    matrix = np.asarray(affine, dtype=np.float64)
    image = nib.Nifti1Image(np.ascontiguousarray(array), matrix)
    image.set_qform(matrix, code=2)
    image.set_sform(matrix, code=2)
    image.header.set_xyzt_units("mm")
    if description:
        image.header["descrip"] = description.encode()[:79]
    data: bytes = image.to_bytes()
    return gzip.compress(data, compresslevel=1, mtime=0) if compress else data
