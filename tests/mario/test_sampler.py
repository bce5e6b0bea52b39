import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from mario import prompts, sampler, tiles

from tests.mario import tiny


def test_one_generation_step_extends_the_cache(tmp_path) -> None:
    m = tiny.model(tmp_path)
    vec = prompts.embedding(prompts.parse("many pipes"))
    cache = m.new_cache(vec)
    start = tiles.encode(sampler.START)
    logits = m.run(start, cache)
    assert logits.shape == (1, len(start), tiles.VOCAB_SIZE) and cache.length == len(start)
    nxt = sampler.sample_next(logits[:, -1], 1.0, np.random.default_rng(0))
    step = m.run(nxt[:, None], cache)
    assert step.shape == (1, 1, tiles.VOCAB_SIZE) and cache.length == len(start) + 1
    whole = m.forward(np.concatenate([start, nxt])[None], vec)
    assert np.allclose(whole[0, -1], step[0, -1], atol=1e-5)


def test_generation_slides_past_the_context(tmp_path) -> None:
    m = tiny.model(tmp_path)
    level = sampler.generate("no enemies", 11, seed=3, model=m)  # the tiny context is 4 columns
    assert len(level) == 14 and tiles.width(level) == 11
    assert [r[:3] for r in level] == sampler.START
    assert level == sampler.generate("no enemies", 11, seed=3, model=m)
    assert level != sampler.generate("no enemies", 11, seed=4, model=m)


def test_batched_generation_matches_one_at_a_time_shapes(tmp_path) -> None:
    m = tiny.model(tmp_path)
    levels = sampler.generate_many(prompts.prompt_grid()[:3], 9, model=m)
    assert len(levels) == 3 and all(tiles.width(lv) == 9 for lv in levels)


def test_low_temperature_is_nearly_greedy() -> None:
    logits = np.array([[0.0, 2.0, 1.0] + [-5.0] * 10])
    rng = np.random.default_rng(0)
    picks = {int(sampler.sample_next(logits, 0.05, rng)[0]) for _ in range(50)}
    assert picks == {1}


@pytest.mark.parametrize(
    "columns, temperature, seed, message",
    [
        (2, 1.0, 0, "out of range"),
        (5000, 1.0, 0, "out of range"),
        ("64", 1.0, 0, "whole number of columns"),
        (64, 0.0, 0, "temperature 0.0 is out of range"),
        (64, "hot", 0, "temperature must be a number"),
        (64, 1.0, "abc", "seed must be a whole number"),
        (64, 1.0, 1.5, "seed must be a whole number"),
        (64, 1.0, -1, "seed -1 is out of range"),
    ],
)
def test_bad_requests(columns: object, temperature: object, seed: object, message: str) -> None:
    with pytest.raises(sampler.GenerationError, match=message):
        sampler.check_request(columns, temperature, seed)


def test_serving_modules_do_not_import_torch() -> None:
    code = "import sys, mario.web, mario.sampler, mario.render, mario.agent; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_guidance_draws_from_the_mix_of_guided_and_unguided_logits(tmp_path) -> None:
    """Classifier-free guidance: each tile from u + g (c - u), u the logits with the mean prompt; by hand for the
    first generated column (before the window slides), with the sampler's own random stream."""
    m = sampler.NumpyGPT.load(tiny.write(tmp_path / "cfg.npz", replace(tiny.CFG, prompt_dropout=0.1)))
    q, g, seed = prompts.parse("many pipes, no enemies"), 3.0, 5
    vec, mean = prompts.embedding(q), m.w["prompt_mean"]
    rng = np.random.default_rng(seed)
    tokens = tiles.encode(sampler.START)
    for _ in range(tiles.HEIGHT):
        c = m.forward(tokens[None], vec)[0, -1]
        u = m.forward(tokens[None], mean)[0, -1]
        nxt = sampler.sample_next((u + g * (c - u))[None], 0.9, rng)
        tokens = np.concatenate([tokens, nxt])
    level = sampler.generate_many([q], 8, temperature=0.9, seed=seed, model=m, guidance=g)[0]
    assert tiles.columns(level, 3, 4) == tiles.decode(tokens[-tiles.HEIGHT :])
    plain = sampler.generate_many([q], 8, temperature=0.9, seed=seed, model=m, guidance=1.0)[0]
    assert plain != level  # the random stream is the same: only the guidance differs


def test_a_contradictory_prompt_is_refused_however_it_arrives(tmp_path) -> None:
    m = tiny.model(tmp_path)
    made = prompts.Prompt("some", "some", "no", "high")  # not through parse
    with pytest.raises(prompts.PromptError, match="cannot both hold"):
        sampler.generate_many([prompts.parse("many pipes"), made], 8, model=m)
    with pytest.raises(prompts.PromptError, match="cannot both hold"):
        sampler.generate(made, 8, model=m)
    with pytest.raises(prompts.PromptError, match="cannot both hold"):
        sampler.generate("zero blocks and tall elevation", 8, model=m)


def test_guidance_needs_a_model_trained_for_it(tmp_path) -> None:
    m = tiny.model(tmp_path)  # trained without prompt dropout: it knows no level without a prompt
    q = [prompts.parse("many pipes")]
    assert sampler.generate_many(q, 8, seed=2, model=m, guidance=3.0) == sampler.generate_many(q, 8, seed=2, model=m)


@pytest.mark.parametrize("guidance", [-1.0, float("nan"), 11.0, "2"])
def test_guidance_out_of_range_is_refused(tmp_path, guidance: object) -> None:
    with pytest.raises(sampler.GenerationError, match=r"guidance .* is out of range; give 0 to 10"):
        sampler.generate_many([prompts.parse("many pipes")], 8, model=tiny.model(tmp_path), guidance=guidance)  # type: ignore[arg-type]
