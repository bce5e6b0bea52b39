import numpy as np
import pytest

from mario import prompts


def test_canonical_prompt_and_defaults() -> None:
    q = prompts.parse("many pipes, no enemies")
    assert q.text == "many pipes, no enemies, some blocks, low elevation"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Lots of pipes and a few enemies; high elevation", ("many", "little", "some", "high")),
        ("no blocks, flat", ("some", "some", "no", "low")),
        ("without enemies, many tubes, some blocks, tall elevation", ("many", "no", "some", "high")),
    ],
)
def test_synonyms(text: str, expected: tuple[str, ...]) -> None:
    q = prompts.parse(text)
    assert (q.pipes, q.enemies, q.blocks, q.elevation) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("many dragons", "'dragons'"),
        ("many", "no attribute"),
        ("pipes", "needs one quantity"),
        ("many pipes enemies", "several attributes"),
        ("many pipes, no pipes", "given twice"),
        ("some elevation", "'low' or 'high'"),
        ("x" * 400, "characters long"),
        ("no blocks, high elevation", "cannot both hold"),
        ("tall, without blocks", "ask for little blocks, or low elevation"),
    ],
)
def test_bad_prompts_list_the_words_understood(text: str, message: str) -> None:
    with pytest.raises(prompts.PromptError, match=message):
        prompts.parse(text)


def test_unknown_words_error_lists_vocabulary() -> None:
    with pytest.raises(prompts.PromptError, match="quantities: no"):
        prompts.parse("many castles")


def test_the_grid_is_every_prompt_a_level_can_satisfy() -> None:
    grid = prompts.prompt_grid()
    assert len(grid) == 112 and all(q.contradiction is None for q in grid)
    left_out = [q for q in prompts.all_prompts() if q not in grid]
    assert {(q.blocks, q.elevation) for q in left_out} == {("no", "high")}
    assert prompts.parse("no blocks").elevation == "low" and prompts.parse("high elevation").blocks == "some"


def test_index_matches_table_order() -> None:
    every = prompts.all_prompts()
    assert len(every) == 128
    assert [q.index for q in every] == list(range(128))


def test_committed_embeddings_are_the_canonical_prompts() -> None:
    table = prompts.embedding_table()
    assert table.shape == (128, prompts.EMBED_DIM)
    assert np.allclose(np.linalg.norm(table, axis=1), 1.0, atol=1e-2)
    a = prompts.embedding(prompts.parse("many pipes"))
    b = prompts.embedding(prompts.parse("no pipes"))
    assert not np.allclose(a, b)
