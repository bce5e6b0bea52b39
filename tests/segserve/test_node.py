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
