import subprocess
import sys

import pytest

from mario import cli, tiles


def test_generate_writes_text_and_png(tmp_path, capsys) -> None:
    stem = tmp_path / "out" / "level"
    code = cli.main(["generate", "many pipes, no enemies", "--columns", "12", "--seed", "1", "--out", str(stem)])
    assert code == 0
    rows = tiles.from_text((stem.with_suffix(".txt")).read_text())
    assert len(rows) == 14 and len(rows[0]) == 12
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "many pipes, no enemies, some blocks, low elevation" in out and "playable:" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["", "--columns", "12"], "the prompt is empty"),
        (["many castles"], "words not understood: 'castles'"),
        (["tall elevation, no blocks"], "'no blocks' and 'high elevation' cannot both hold"),
        (["many pipes", "--columns", "3"], "length 3 is out of range; give 8 to 1000 columns"),
        (["many pipes", "--seed", "abc"], "seed must be a whole number, got 'abc'"),
        (["many pipes", "--temperature", "0"], "temperature 0.0 is out of range"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args: list[str], message: str) -> None:
    assert cli.main(["generate", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_module_entry_point(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mario", "generate", "no pipes", "--columns", "9", "--out", str(tmp_path / "l")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "l.txt").exists()
