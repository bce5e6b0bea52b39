import pytest

from geecache import ByteView


def test_length_equality_and_conversions():
    view = ByteView(b"hello")
    assert len(view) == 5
    assert view == b"hello" and view == ByteView(b"hello") and view != b"other"
    assert bytes(view) == b"hello" and str(view) == "hello"
    assert view[1] == ord("e")


def test_reading_does_not_copy():
    data = b"x" * 1000
    view = ByteView(data)
    assert view.bytes() is data


def test_slices_are_views_and_immutable():
    view = ByteView(b"hello world")
    part = view[6:]
    assert part == b"world" and isinstance(part, ByteView)
    assert part.memoryview().readonly
    with pytest.raises(TypeError):
        part.memoryview()[0] = 0  # type: ignore[index]


def test_a_bytearray_is_copied_on_the_way_in():
    source = bytearray(b"abc")
    view = ByteView(source)
    source[0] = ord("z")
    assert view == b"abc"


def test_only_bytes_are_accepted():
    with pytest.raises(TypeError, match="holds bytes"):
        ByteView("text")  # type: ignore[arg-type]
