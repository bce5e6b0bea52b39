"""The node's command line: mounting another gee application, and its errors."""

import httpx
import pytest

from segserve.node import main

from tests.segserve.conftest import Node


def test_mounted_application_is_served_and_linked(standin):
    server = Node(standin, "--tcp-port", "-1", "--mount", "Hello app=tests.segserve.mounted_app:register")
    server.start()
    try:
        assert httpx.get(server.url + "/hello/").text == "hello from a mounted app"
        assert '<a href="/hello/">Hello app</a>' in httpx.get(server.url + "/").text
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nonsense", "write TITLE=MODULE:FUNCTION"), ("X=no_such_module:f", "cannot import no_such_module"),
     ("X=json:no_such_function", "json has no function no_such_function")],
)  # fmt: skip
def test_bad_mount_is_a_clear_exit(standin, spec, message):
    with pytest.raises(SystemExit, match=message):
        main(["--model", str(standin), "--port", "0", "--tcp-port", "-1", "--mount", spec])


def test_micro_batching_runs_concurrent_slices_together(standin):
    """Four different slices of one shape arrive together; with --batch-size 4 the batch closes on the fourth (the
    long window only bounds the wait), so the model runs once for all four."""
    import asyncio

    import numpy as np

    from tests.imagefiles import png_bytes
    from tests.segserve.conftest import LIVER, labels_of, phantom

    server = Node(standin, "--tcp-port", "-1", "--batch-size", "4", "--batch-window-ms", "30000", "--workers", "1")
    server.start()
    images = []
    for shift in range(4):
        image = np.roll(phantom(), 10 * shift, axis=1)
        images.append(png_bytes(image))

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(
                *(client.post(server.url + "/v1/segment?format=png", content=b) for b in images)
            )

    try:
        answers = asyncio.run(send_all())
        assert all(a.status_code == 200 for a in answers)
        assert all((labels_of(a.content)[60:100, 80:150] == LIVER).all() for a in answers)
        assert server.metric("segserve_model_runs_total") == 1
        assert server.metric("segserve_model_slices_total") == 4
    finally:
        server.stop()
