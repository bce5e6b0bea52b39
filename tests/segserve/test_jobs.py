"""Volumes as jobs, against real nodes: progress by server-sent events, results in every format, statistics, the
viewer's planes, cancelling, any node answering, and bad inputs answered 4xx with nothing left behind."""

from __future__ import annotations

import gzip
import io
import json
import pathlib
import socket
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image as PILImage

from medimage import pack_series, read_bytes

from tests.imagefiles import dicom_series, nifti_bytes, png_bytes
from tests.processes import free_port
from tests.segserve.conftest import LIVER, Node, hu_for, tcp_call, tcp_read

SPLEEN = 1


def volume(slices: int = 6, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """HU ``[i, j, k]``: air, a liver block in every slice and a spleen block in the upper half of the slices."""
    hu = np.full((*size, slices), -1000.0, np.float32)
    hu[4:40, 4:36, :] = hu_for(LIVER)
    hu[44:62, 10:44, slices // 2 :] = hu_for(SPLEEN)
    return hu


def follow(url: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The ``status`` events of a job's event stream, until the server ends it."""
    states = []
    with httpx.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "status":
                states.append(json.loads(line[6:]))
    return states


def wait_done(base: str, job_id: str, deadline: float = 30.0) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        state = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10).json()
        if state["status"] in ("done", "failed", "cancelled"):
            return state  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id[:20]} not finished within {deadline} s")


@pytest.fixture(scope="module")
def jobs_node(standin: pathlib.Path) -> Iterator[Node]:
    server = Node(standin, "--batch-size", "2", "--max-files", "64").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_volume_job_reports_progress_and_answers_every_format(jobs_node: Node) -> None:
    hu = volume()
    body = nifti_bytes(hu, gz=True)
    posted = httpx.post(f"{jobs_node.url}/v1/jobs", content=body, timeout=30)
    assert posted.status_code == 202
    job = posted.json()
    assert posted.headers["location"] == job["urls"]["self"] == f"/v1/jobs/{job['id']}"
    assert job["total"] == 6
    assert job["input"] == {"format": "nifti", "intensity": "raw", "shape": [64, 48, 6], "outputs": ["json", "nifti"]}
    assert job["views"]["axial"] == {"count": 6, "width": 64, "height": 48, "aspect": 1.0}
    assert job["views"]["coronal"]["aspect"] == pytest.approx(2.5 / 0.8)

    states = follow(jobs_node.url + job["urls"]["events"])
    assert states[-1]["status"] == "done" and states[-1]["done"] == 6
    dones = [s["done"] for s in states]
    assert dones == sorted(dones)  # progress only grows

    nifti = httpx.get(f"{jobs_node.url}{job['urls']['result']}?format=nifti", timeout=10)
    assert nifti.status_code == 200 and nifti.headers["content-type"] == "application/gzip"
    labels = read_bytes(gzip.decompress(nifti.content)).array
    assert labels.shape == hu.shape
    assert labels[20, 20, 0] == LIVER and labels[52, 30, 5] == SPLEEN and labels[52, 30, 0] == 0
    # the same input through the one-round-trip route: the same labels, from the cache
    sync = httpx.post(f"{jobs_node.url}/v1/segment", content=body, params={"format": "nifti"}, timeout=30)
    assert sync.status_code == 200 and np.array_equal(read_bytes(gzip.decompress(sync.content)).array, labels)

    result = httpx.get(f"{jobs_node.url}{job['urls']['result']}", params={"format": "json"}, timeout=10).json()
    liver = next(c for c in result["classes"] if c["name"] == "liver")
    inside = labels == LIVER
    assert liver["pixels"] == int(inside.sum())
    assert liver["volume_ml"] == pytest.approx(inside.sum() * 0.8 * 0.8 * 2.5 / 1000, abs=1e-3)
    assert liver["hu_mean"] == pytest.approx(float(hu[inside].mean()), abs=0.05)
    assert liver["hu_sd"] == pytest.approx(float(hu[inside].std()), abs=0.05)

    png = httpx.get(f"{jobs_node.url}{job['urls']['result']}", params={"format": "png"}, timeout=10)
    assert png.status_code == 406 and png.json()["error"]["code"] == "not_representable"
    seg = httpx.get(f"{jobs_node.url}{job['urls']['result']}", params={"format": "dicom-seg"}, timeout=10)
    assert seg.status_code == 406 and "nifti" in seg.json()["error"]["message"]

    again = httpx.post(f"{jobs_node.url}/v1/jobs", content=body, timeout=30).json()
    assert again["id"] != job["id"] and again["status"] == "done"  # a job of its own, on the run already done
    assert again["id"].split("~")[0] == job["id"].split("~")[0]  # the same result key
    finished = httpx.delete(f"{jobs_node.url}{job['urls']['self']}", timeout=10)
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "job_finished"


def test_the_viewer_planes_are_radiological_and_windowed(jobs_node: Node) -> None:
    hu = volume()
    hu[60:64, 44:48, :] = 400.0  # the patient's right (high x in RAS), anterior (high y) corner
    job = httpx.post(f"{jobs_node.url}/v1/jobs", content=nifti_bytes(hu), timeout=30).json()
    wait_done(jobs_node.url, job["id"])
    base = f"{jobs_node.url}/v1/jobs/{job['id']}"

    def picture(path: str, **params: Any) -> np.ndarray:
        response = httpx.get(base + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return np.asarray(PILImage.open(io.BytesIO(response.content)))

    axial = picture("/image/axial/1", level=40, width=400)
    assert axial.shape == (48, 64)  # rows: y (posterior..anterior flipped), columns: x
    assert axial[0:4, 0:4].min() == 255  # right-anterior corner: top left, as radiologists read
    assert axial[47 - 2, 63 - 42] == 0  # air at x=42, y=2
    bone = picture("/image/axial/1", window="bone")
    assert 0 < bone[0, 0] < 255  # 400 HU is mid-grey in the bone window (400 / 1800)
    labels = picture("/labels/axial/1")
    assert labels.shape == axial.shape and labels[48 - 20, 64 - 20] == LIVER  # x=20, y=20 is liver
    coronal = picture("/labels/coronal/20")
    assert coronal.shape == (6, 64) and (coronal[:, 64 - 20] == LIVER).all()

    for path, code in [
        ("/image/oblique/0", "unknown_plane"),
        ("/image/axial/6", "unknown_slice"),
        ("/image/axial/-1", "unknown_slice"),
    ]:
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 404 and response.json()["error"]["code"] == code
    for params in [{"width": "0"}, {"width": "nan"}, {"level": "1e308", "width": "1e308"}, {"window": "brain"}]:
        response = httpx.get(base + "/image/axial/0", params=params, timeout=10)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_input", params
    assert np.array_equal(picture("/image/axial/1", window="bone", level=40, width=400), axial)  # level/width win


def test_cancel_stops_a_running_job_and_frees_it(slower_standin: pathlib.Path) -> None:
    # About 80 ms a slice: after the first slice the job has seconds to run, so the DELETE below finds it running
    # however loaded the machine (with 5 ms slices it could finish first, and the DELETE answered 409).
    node = Node(slower_standin, "--batch-size", "1").start()
    try:
        body = nifti_bytes(volume(slices=60, size=(256, 256)))
        job_id = httpx.post(f"{node.url}/v1/jobs", content=body, timeout=30).json()["id"]
        other_id = httpx.post(f"{node.url}/v1/jobs", content=body, timeout=30).json()["id"]  # the same volume
        other_base = f"{node.url}/v1/jobs/{other_id}"
        httpx.delete(other_base, timeout=10)  # one client cancels its job: the other's goes on
        assert httpx.get(other_base, timeout=10).json()["status"] == "cancelled"
        base = f"{node.url}/v1/jobs/{job_id}"
        with httpx.stream("GET", base + "/events", timeout=30) as events:
            for line in events.iter_lines():  # wait for the first slice to be done, then cancel
                if line.startswith("data: ") and json.loads(line[6:])["done"] > 0:
                    break
        cancelled = httpx.delete(base, timeout=10)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        state = httpx.get(base, timeout=10).json()
        assert state["status"] == "cancelled" and state["done"] < 60
        result = httpx.get(base + "/result", timeout=10)
        assert result.status_code == 410 and result.json()["error"]["code"] == "job_cancelled"
        assert httpx.get(base + "/image/axial/0", timeout=10).status_code == 410  # the volume was dropped
        slices = node.metric("segserve_model_slices_total")
        time.sleep(0.5)
        assert node.metric("segserve_model_slices_total") <= slices + 1  # at most the run in flight finished
        health = httpx.get(f"{node.url}/healthz", timeout=10).json()
        assert health["jobs"] == 0 and health["pool"]["waiting"] >= 0
    finally:
        node.stop()


def test_unknown_jobs_are_404(jobs_node: Node) -> None:
    for job_id in ["nope", "0" * 16 + "-file-" + "0" * 64, "0" * 16 + "-file-" + "0" * 64 + "~" + "1" * 16, "a" * 5000]:
        for method, path in [("GET", ""), ("GET", "/result"), ("GET", "/events"), ("DELETE", "")]:
            response = httpx.request(method, f"{jobs_node.url}/v1/jobs/{job_id}{path}", timeout=10)
            assert response.status_code == 404, (job_id, path, response.text)
            assert response.json()["error"]["code"] == "unknown_job"


def test_a_dicom_series_as_files_gives_a_seg_that_references_it(jobs_node: Node) -> None:
    hu = volume(slices=4).transpose(2, 1, 0)  # [slices, rows, cols]
    files = dicom_series(hu)
    multipart = [("file", (name, data, "application/dicom")) for name, data in files]
    job = httpx.post(f"{jobs_node.url}/v1/jobs", files=multipart, timeout=30).json()
    assert job["input"]["format"] == "dicom" and job["input"]["intensity"] == "hu"
    wait_done(jobs_node.url, job["id"])
    seg = httpx.get(f"{jobs_node.url}/v1/jobs/{job['id']}/result", params={"format": "dicom-seg"}, timeout=30)
    assert seg.status_code == 200 and seg.headers["content-type"] == "application/dicom"
    import highdicom
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(seg.content))
    segmentation = highdicom.seg.Segmentation.from_dataset(dataset)
    labels = [d.SegmentLabel for d in dataset.SegmentSequence]
    assert "liver" in labels and "spleen" in labels
    source = pydicom.dcmread(io.BytesIO(files[0][1]))
    assert dataset.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    assert segmentation.number_of_segments == len(labels)
    # the JSON statistics of a DICOM input are in HU by the Modality LUT
    result = httpx.get(f"{jobs_node.url}/v1/jobs/{job['id']}/result", timeout=10).json()
    assert result["axes"] == "zyx" and result["shape"] == [4, 48, 64]
    liver = next(c for c in result["classes"] if c["name"] == "liver")
    assert liver["hu_mean"] == pytest.approx(round(hu_for(LIVER)), abs=1.0)


def test_a_job_done_on_one_node_is_answered_by_another(standin: pathlib.Path) -> None:

    ports = [free_port() for _ in range(2)]
    peers = [f"http://127.0.0.1:{port}" for port in ports]
    nodes = [Node(standin, "--self", peers[i], port=0, peer_port=ports[i], peers=peers).start() for i in range(2)]
    try:
        body = nifti_bytes(volume(slices=3))
        job = httpx.post(f"{nodes[0].url}/v1/jobs", content=body, timeout=30).json()
        wait_done(nodes[0].url, job["id"])
        other = httpx.get(f"{nodes[1].url}/v1/jobs/{job['id']}", timeout=10)
        assert other.status_code == 200 and other.json()["status"] == "done"
        assert other.json()["views"] == job["views"]  # the input read again from the cluster, for viewing
        picture = httpx.get(f"{nodes[1].url}/v1/jobs/{job['id']}/labels/axial/1", timeout=10)
        assert picture.status_code == 200 and LIVER in np.asarray(PILImage.open(io.BytesIO(picture.content)))
        answer = httpx.get(f"{nodes[1].url}/v1/jobs/{job['id']}/result", params={"format": "json"}, timeout=10)
        assert answer.status_code == 200 and "liver" in answer.json()["present"]
        assert sum(node.metric("segserve_inferences_total") for node in nodes) == 1
    finally:
        for node in nodes:
            node.stop()


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_bad_inputs_are_4xx_and_leave_nothing_behind(jobs_node: Node) -> None:
    hu = volume(slices=3).transpose(2, 1, 0)
    series = dicom_series(hu)
    other_size = dicom_series(volume(slices=3, size=(32, 32)).transpose(2, 1, 0), origin=(0, 0, 100))
    tilted = dicom_series(hu, orientation=(1, 0, 0, 0, 0.8, -0.6), origin=(0, 0, 50))
    many = zipped([(f"{i}.dcm", b"x") for i in range(10_000)])
    cases: list[tuple[str, bytes, int, str]] = [
        ("zip without DICOM", zipped([("readme.txt", b"hello")]), 400, "no DICOM"),
        ("zip climbing out", zipped([("../../evil.dcm", series[0][1])]), 400, "climbs out"),
        ("mixed sizes", pack_series(series + other_size), 400, "series"),
        ("mixed orientations", pack_series(series + tilted), 400, "orientation"),
        ("10,000 files", many, 413, "files"),
        ("not an image", b"hello, this is text", 415, "not a PNG"),
        ("an empty zip", zipped([]), 400, "no DICOM"),
        ("NIfTI without orientation", nifti_bytes(volume(), sform_code=0, qform_code=0), 422, "left"),
        ("a tiny voxel size", nifti_bytes(volume(), np.diag([0.001, 0.001, 1, 1])), 422, "spacing"),
    ]
    temp = pathlib.Path("/tmp")
    before = set(temp.iterdir())
    for what, body, status, words in cases:
        response = httpx.post(f"{jobs_node.url}/v1/jobs", content=body, timeout=30)
        assert response.status_code == status, (what, response.text)
        assert words in response.json()["error"]["message"], (what, response.json())
    mixed = [("file", (name, data, "application/dicom")) for name, data in series[:2]]
    mixed.append(("file", ("fake.dcm", png_bytes(np.zeros((8, 8), np.uint8)), "application/dicom")))
    response = httpx.post(f"{jobs_node.url}/v1/jobs", files=mixed, timeout=30)
    assert response.status_code == 400 and "fake.dcm" in response.json()["error"]["message"]  # never dropped unseen
    for method, path, status in [("GET", "/v1/jobs", 405), ("PUT", "/v1/jobs", 405), ("GET", "/v2/nothing", 404)]:
        response = httpx.request(method, f"{jobs_node.url}{path}", timeout=10)
        assert response.status_code == status and response.json()["error"]["code"] in (
            "not_found",
            "method_not_allowed",
        )
    parts = [("file", (f"{i}.dcm", b"x", "application/dicom")) for i in range(3000)]
    response = httpx.post(f"{jobs_node.url}/v1/jobs", files=parts, timeout=30)
    assert response.status_code in (400, 413) and response.json()["error"]["code"] in ("bad_request", "body_too_large")
    assert httpx.get(f"{jobs_node.url}/healthz", timeout=10).json()["jobs"] == 0
    assert set(temp.iterdir()) - before == set()  # no spooled upload left on disk


def test_jobs_over_tcp(jobs_node: Node) -> None:
    import base64

    series = dicom_series(volume(slices=3).transpose(2, 1, 0))
    with socket.create_connection(("127.0.0.1", jobs_node.tcp_port), timeout=30) as sock:
        files = [base64.b64encode(data).decode() for _, data in series]
        tcp_call(sock, {"id": 1, "op": "submit", "files": files})
        answer = tcp_read(sock)
        assert answer["ok"], answer
        job_id = answer["result"]["id"]
        wait_done(jobs_node.url, job_id)
        tcp_call(sock, {"id": 2, "op": "result", "job": job_id, "format": "json"})
        result = tcp_read(sock)
        assert result["ok"] and "liver" in result["result"]["present"]
        tcp_call(sock, {"id": 4, "op": "submit", "files": files, "image": files[0]})
        both = tcp_read(sock)
        assert not both["ok"] and "not both" in both["error"]["message"]
        tcp_call(sock, {"id": 3, "op": "job", "job": "nope"})
        missing = tcp_read(sock)
        assert not missing["ok"] and missing["error"]["code"] == "unknown_job"


def test_a_full_node_refuses_a_new_volume_before_reading_it(slower_standin: pathlib.Path) -> None:
    node = Node(slower_standin, "--batch-size", "1", "--max-running-jobs", "1").start()
    try:
        first = httpx.post(f"{node.url}/v1/jobs", content=nifti_bytes(volume(slices=60, size=(256, 256))), timeout=30)
        assert first.status_code == 202
        truncated = nifti_bytes(volume(slices=3))[:-100]  # read, it would answer 400: a 503 says it was not read
        second = httpx.post(f"{node.url}/v1/jobs", content=truncated, timeout=30)
        assert second.status_code == 503 and second.headers["retry-after"] == "60"
    finally:
        node.stop()
