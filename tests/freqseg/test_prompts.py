"""Prompt embeddings: made with a tiny random text model built here (no download), saved, loaded, checked."""

import pytest
import torch
from torch import nn

from freqseg.errors import DataError
from freqseg.prompts import DEFAULT_FILE, PromptEmbeddings, embed, prompt_name


class ByteBagEncoder(nn.Module):
    """A tiny text model: mean of learned byte embeddings. Random, but a real encoder of text."""

    def __init__(self, width: int = 24):
        super().__init__()
        torch.manual_seed(0)
        self.table = nn.Embedding(256, width)

    def forward(self, prompts: list[str]) -> torch.Tensor:
        return torch.stack([self.table(torch.tensor(list(p.encode()))).mean(0) for p in prompts])


def test_names_read_as_words():
    assert prompt_name("kidney_right") == "right kidney"
    assert prompt_name("adrenal_gland_left") == "left adrenal gland"
    assert prompt_name("inferior_vena_cava") == "inferior vena cava"


def test_round_trip(tmp_path):
    made = embed(["liver", "kidney_left"], ByteBagEncoder(), "byte-bag")
    assert made.prompts == ["a computed tomography of a liver", "a computed tomography of a left kidney"]
    made.save(tmp_path / "p.pt")
    loaded = PromptEmbeddings.load(tmp_path / "p.pt")
    assert loaded.classes == made.classes and loaded.encoder == "byte-bag" and loaded.width == 24
    assert torch.equal(loaded.embeddings, made.embeddings)
    assert not torch.equal(loaded.embeddings[0], loaded.embeddings[1])


def test_mismatches_are_clear_errors(tmp_path):
    made = embed(["liver", "spleen"], ByteBagEncoder(), "byte-bag")
    with pytest.raises(DataError, match=r"missing \['stomach'\], extra \['spleen'\]"):
        made.check(["liver", "stomach"])
    with pytest.raises(DataError, match="different order"):
        made.check(["spleen", "liver"])
    with pytest.raises(DataError, match="24 wide but the model expects 384"):
        made.check(["liver", "spleen"], width=384)
    with pytest.raises(DataError, match="needs a"):
        embed(["liver"], ByteBagEncoder(), "byte-bag", template="CT of liver")
    (tmp_path / "junk.pt").write_bytes(b"not a tensor file")
    with pytest.raises(DataError, match="not a prompt embedding file"):
        PromptEmbeddings.load(tmp_path / "junk.pt")
    with pytest.raises(DataError, match="embed-prompts"):
        PromptEmbeddings.load(tmp_path / "missing.pt")


def test_committed_default_file_covers_the_btcv_classes():
    from freqseg.prepare import CLASSES

    prompts = PromptEmbeddings.load(DEFAULT_FILE)
    prompts.check(CLASSES[1:], width=384)
    assert prompts.encoder.startswith("all-MiniLM-L6-v2")
    norms = prompts.embeddings.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)  # sentence-transformers, normalised
