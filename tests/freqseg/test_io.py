import gzip

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from freqseg.io import DataError, read_image


def write_dicom(path, pixels: np.ndarray, z: float, with_pixels: bool = True) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Modality = "CT"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, z]
    ds.PixelSpacing = [0.5, 0.5]
    ds.SliceThickness = 2.0
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    if with_pixels:
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def test_nifti_round_trip(tmp_path):
    array = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    nib.save(nib.Nifti1Image(array, np.diag([0.8, 0.8, 2.5, 1])), str(tmp_path / "ct.nii.gz"))
    volume = read_image(tmp_path / "ct.nii.gz")
    assert volume.shape == (4, 5, 3) and np.array_equal(volume.array, array)
    assert volume.spacing == pytest.approx((0.8, 0.8, 2.5))


def test_truncated_nifti_names_the_file(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 16), np.float32), np.eye(4)), str(tmp_path / "ok.nii.gz"))
    raw = gzip.decompress((tmp_path / "ok.nii.gz").read_bytes())
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(DataError, match=r"cut\.nii\.gz: not a readable NIfTI"):
        read_image(tmp_path / "cut.nii.gz")
    (tmp_path / "junk.nii").write_bytes(b"not a nifti at all")
    with pytest.raises(DataError, match=r"junk\.nii"):
        read_image(tmp_path / "junk.nii")


def test_dicom_series_is_sorted_by_position_and_rescaled(tmp_path):
    for i, z in enumerate([4.0, 0.0, 2.0]):  # written out of order
        write_dicom(tmp_path / f"s{i}.dcm", np.full((6, 8), 1024 + int(z)), z)
    volume = read_image(tmp_path)
    assert volume.shape == (8, 6, 3)
    assert [float(volume.array[0, 0, k]) for k in range(3)] == [0.0, 2.0, 4.0]  # HU = raw - 1024
    assert volume.spacing == pytest.approx((0.5, 0.5, 2.0))


def test_dicom_series_with_mixed_sizes_is_refused(tmp_path):
    write_dicom(tmp_path / "a.dcm", np.zeros((6, 8)), 0.0)
    write_dicom(tmp_path / "b.dcm", np.zeros((7, 8)), 2.0)
    with pytest.raises(DataError, match="mixes slice sizes"):
        read_image(tmp_path)


def test_dicom_without_pixel_data_is_refused(tmp_path):
    write_dicom(tmp_path / "report.dcm", np.zeros((2, 2)), 0.0, with_pixels=False)
    with pytest.raises(DataError, match="without pixel data"):
        read_image(tmp_path / "report.dcm")


def test_png_grey_16bit_and_rgba(tmp_path):
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(tmp_path / "g.png")
    Image.fromarray(np.full((3, 4), 40000, dtype=np.uint16)).save(tmp_path / "w.png")
    Image.new("RGBA", (4, 3), (255, 0, 0, 128)).save(tmp_path / "c.png")
    grey = read_image(tmp_path / "g.png")
    assert grey.shape == (4, 3, 1) and grey.array[2, 2, 0] == 1  # display orientation -> RAS: transposed, flipped
    assert read_image(tmp_path / "w.png").array.max() == 40000
    assert read_image(tmp_path / "c.png").shape == (4, 3, 1)


def test_unknown_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_image(tmp_path / "nope.nii")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataError, match="unknown image type"):
        read_image(tmp_path / "x.txt")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="not a readable PNG"):
        read_image(tmp_path / "bad.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no DICOM files"):
        read_image(tmp_path / "empty")
