"""The frozen bottom's hidden states on disk: how stage ``frozen`` stores them and ``embed`` reads them.

Layout of the directory: ``meta.json`` (frozen layer count, encoder and its weights' sha256, token
count) and, if any layer is frozen, ``states.safetensors`` with ``hidden [tokens, H]``,
``offsets [n + 1]`` (text i's states are ``hidden[offsets[i]:offsets[i+1]]``) and ``keys [n, 32]``
(sha256 of each text). Texts are stored longest first, in the order :meth:`Encoder.embed` batches
them, so a reader takes contiguous slices batch by batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from tqdm.auto import tqdm

from benchmark.io import BenchmarkError, text_key
from benchmark.models import batching, layers
from benchmark.models.encoder import Encoder, mean_pool

META, STATES = "meta.json", "states.safetensors"


def store(encoder: Encoder, texts: list[str], n_frozen: int, prefix: str, batch_size: int, out: Path) -> int:
    """The bottom ``n_frozen`` layers' states of ``texts`` into ``out``; returns the token count."""
    ids: list[list[int]] = encoder.tokenizer([prefix + t for t in texts], truncation=True,
                                             max_length=encoder.max_length, return_attention_mask=False,
                                             return_token_type_ids=False)["input_ids"]
    order = batching.length_order(ids)
    lengths = [len(ids[i]) for i in order]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    hidden = np.empty((int(offsets[-1]), encoder.hidden_size), dtype=np.float32)
    pad = encoder.tokenizer.pad_token_id
    model = encoder.model.eval()
    with torch.inference_mode(), tqdm(total=len(texts), desc="frozen bottom", unit="sent") as bar:
        for rows in batching.cut(range(len(order)), lengths, batch_size):
            input_ids, mask = batching.pad([ids[order[r]] for r in rows], pad)
            h = layers.bottom(model, input_ids.to(encoder.device), mask.to(encoder.device), n_frozen).float().cpu()
            hidden[offsets[rows[0]] : offsets[rows[-1] + 1]] = h[mask.bool()].numpy()
            bar.update(len(rows))
    keys = np.frombuffer(b"".join(text_key(texts[i]) for i in order), dtype=np.uint8).reshape(len(texts), 32)
    save_file({"hidden": hidden, "offsets": offsets, "keys": keys}, str(out))
    return int(offsets[-1])


@dataclass
class FrozenStates:
    """The stored bottom states, read lazily; see the module docstring for the layout."""

    frozen_layers: int
    path: Path
    weights_sha256: str | None  # of the pretrained encoder that computed them

    @classmethod
    def open(cls, root: Path) -> FrozenStates:
        if not (root / META).exists():
            raise BenchmarkError(f"{root}: frozen states missing; run the frozen stage first")
        meta = json.loads((root / META).read_text(encoding="utf-8"))
        return cls(int(meta["frozen_layers"]), root / STATES, meta.get("weights_sha256"))

    def embed(self, model: torch.nn.Module, texts: list[str], batch_size: int, progress: str | None = None) -> np.ndarray:
        """Mean-pooled embeddings of ``texts`` through ``model``'s layers above the frozen ones."""
        with safe_open(str(self.path), framework="numpy") as f:
            offsets, keys = f.get_tensor("offsets"), f.get_tensor("keys")
            row_of = {k.tobytes(): i for i, k in enumerate(keys)}
            missing = [t for t in texts if text_key(t) not in row_of]
            if missing:
                raise BenchmarkError(f"{self.path}: {len(missing)} texts have no frozen states "
                                     f"(e.g. {missing[0][:40]!r}); rerun the frozen stage")
            wanted = sorted({row_of[text_key(t)] for t in texts})  # stored order: longest first
            hidden = f.get_slice("hidden")
            pooled: dict[int, np.ndarray] = {}
            device = next(model.parameters()).device
            model.eval()
            with torch.inference_mode(), tqdm(total=len(wanted), desc=progress, unit="sent",
                                              disable=progress is None) as bar:
                for start in range(0, len(wanted), batch_size):
                    rows = wanted[start : start + batch_size]
                    h, mask = batching.pad_flat(_read_rows(hidden, offsets, rows), np.diff(offsets)[rows], 0.0)
                    mask = mask.to(device)
                    out = layers.top(model, h.to(device), mask, self.frozen_layers)
                    for r, v in zip(rows, mean_pool(out, mask).float().cpu().numpy()):
                        pooled[r] = v
                    bar.update(len(rows))
        return np.stack([pooled[row_of[text_key(t)]] for t in texts])


def _read_rows(hidden: Any, offsets: np.ndarray, rows: list[int]) -> np.ndarray:
    """The stored states of ``rows`` back to back: one read when they are stored consecutively."""
    if rows[-1] - rows[0] + 1 == len(rows):
        return hidden[int(offsets[rows[0]]) : int(offsets[rows[-1] + 1])]
    return np.concatenate([hidden[int(offsets[r]) : int(offsets[r + 1])] for r in rows])
