"""Intermediate-task objectives: small modules that turn a batch into ``(loss, stats)``.

Every objective wraps the text encoder (``self.encoder``, a ``BertModel``-like transformer) plus its
own small heads, so one ``nn.Module`` holds everything the training loop updates and checkpoints.
The loop (:mod:`benchmark.training.trainer`) knows nothing about any of them beyond
``forward(batch) -> (loss, stats)``, :meth:`Objective.head_parameters` and
:meth:`Objective.generators`.

Batches are dicts of tensors, built by the data layer (:func:`tokenize` helps):

============== ============================ ==================================================
key            shape / dtype                used by
============== ============================ ==================================================
input_ids      ``[B, T]`` int64              all (captions, or questions)
attention_mask ``[B, T]`` int64              all
image_features ``[B, P, D_img]`` float       Contrastive (text-image); MaskedLM and
                                             AnswerClassification with a visual prefix
image_ids      ``[B]`` int64                 Contrastive (each image at most once per batch)
pair_input_ids ``[B, T2]`` int64             Contrastive text-text (second caption of the image)
pair_attention_mask ``[B, T2]`` int64        Contrastive text-text
labels         ``[B, T]`` int64, -100 = skip MaskedLM, optional: pre-masked input (evaluation)
answer_scores  ``[B, A]`` float in [0, 1]    AnswerClassification (VQA soft scores)
============== ============================ ==================================================

Image features arrive precomputed (e.g. 49 x 1280 MobileNetV2 patches); the controls that swap
them (:class:`ImageSource`) act in the data layer, before a batch exists.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.models import layers
from benchmark.models.encoder import mean_pool
from benchmark.training import distributed

Batch = dict[str, Any]
Stats = dict[str, float]
IGNORE = -100  # label of a position that is not predicted (PyTorch's cross-entropy default)


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int, *, reserve: int = 0) -> dict[str, Tensor]:
    """``input_ids``/``attention_mask`` padded to the longest text; ``reserve`` positions are left
    for a visual prefix, which counts inside ``max_length``."""
    if max_length - reserve < 3:
        raise ValueError(f"max_length {max_length} leaves no room for text after a {reserve}-token prefix")
    enc = tokenizer(list(texts), truncation=True, max_length=max_length - reserve, padding="longest",
                    return_tensors="pt", return_token_type_ids=False)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def _seeded(seed: int, build: Any) -> Any:
    """Build heads from ``seed`` without touching the caller's global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class Objective(nn.Module):
    """Base class: the encoder, an optional visual prefix, and the pieces the loop needs."""

    # Whether a batch's token ids recur unchanged, so their frozen-bottom states can be memoised.
    memoizable = True

    def __init__(self, encoder: nn.Module, image_dim: int | None = None, *, seed: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        # Visual prefix: each patch feature becomes one extra token (MaskedLM, VQA); see encode().
        # Linear then LayerNorm: the patches join post-LayerNorm hidden states at the same scale.
        eps = float(getattr(encoder.config, "layer_norm_eps", 1e-12))
        self.prefix_proj: nn.Sequential | None = (
            _seeded(seed + 1, lambda: nn.Sequential(nn.Linear(image_dim, hidden), nn.LayerNorm(hidden, eps=eps)))
            if image_dim is not None else None
        )
        self.frozen_layers = 0  # layers below the trained ones; the trainer sets it (models.layers)
        self.memo: layers.BottomMemo | None = None  # frozen-bottom states of the training texts

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:  # pragma: no cover - abstract
        raise NotImplementedError

    def head_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """The objective's own trainable heads: every parameter outside the encoder."""
        for name, param in self.named_parameters():
            if not name.startswith("encoder."):
                yield name, param

    def generators(self) -> dict[str, torch.Generator]:
        """RNGs the objective owns (their states go into every checkpoint)."""
        return {}

    def prepare(self, batch: Batch) -> Batch:
        """What the loop does to a whole batch before it is split across ranks: draws and checks over
        the global batch (MLM's masks), so that each rank's share equals its rows of a single-process
        step. Runs on one process too; the default is the batch unchanged."""
        return batch

    def prefix_length(self, batch: Batch) -> int:
        """Positions the visual prefix adds in front of the text (0 without one)."""
        if self.prefix_proj is None or batch.get("image_features") is None:
            return 0
        return int(batch["image_features"].shape[1])

    def encode(self, input_ids: Tensor, attention_mask: Tensor,
               image_features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Hidden states ``[B, P+T, H]`` and the attention mask they were computed with.

        The text runs through the frozen bottom (``self.frozen_layers`` layers, without autograd
        when they are frozen), then the projected patches are put in front of it and both run
        through the trained top layers. So the visual prefix enters where training can act on it,
        and the bottom's output for a text does not depend on the image: with ``frozen_layers``
        = 0 the prefix enters right after the embedding layer. Prefix positions carry no
        position embedding (patches come in a fixed order; the projection can learn it).
        """
        model, n = self.encoder, self.frozen_layers
        frozen = n > 0 and not any(p.requires_grad for p in model.embeddings.parameters())
        hidden = self.memo.lookup(input_ids, attention_mask) if frozen and self.memo is not None else None
        if hidden is None:
            hidden = layers.bottom_by_length(model, input_ids, attention_mask, n) if frozen \
                else layers.bottom(model, input_ids, attention_mask, n)
        mask = attention_mask
        if image_features is not None and self.prefix_proj is not None:
            b, p = image_features.shape[:2]
            prefix = self.prefix_proj(image_features.to(hidden.dtype))
            hidden = torch.cat([prefix, hidden], dim=1)
            mask = torch.cat([attention_mask.new_ones(b, p), attention_mask], dim=1)
        return layers.top(model, hidden, mask, n), mask


def _unique_images(image_ids: Tensor) -> None:
    if torch.unique(image_ids).numel() != image_ids.numel():
        raise ValueError("contrastive batch holds an image twice: its second caption would be a false negative")


class Contrastive(Objective):
    """CLIP-style InfoNCE both ways between text and image (or text and text) embeddings.

    Text: mean-pooled encoder output -> ``text_proj``. Image (``image_dim`` given): mean over patches
    -> ``image_proj``. Text-text control (``image_dim=None``): the batch carries a second caption of
    each image (``pair_*``), embedded by the same encoder and ``text_proj``. Temperature: a learned
    log-scale (``logit_scale``, init ln(1/0.07)), clamped to [0, ln 100] as CLIP does.
    Heads: ``text_proj``, ``image_proj`` (text-image only), ``logit_scale``.
    """

    def __init__(self, encoder: nn.Module, *, image_dim: int | None, proj_dim: int = 256, seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        hidden = int(encoder.config.hidden_size)
        self.text_proj = _seeded(seed + 2, lambda: nn.Linear(hidden, proj_dim, bias=False))
        self.image_proj = (_seeded(seed + 3, lambda: nn.Linear(image_dim, proj_dim, bias=False))
                           if image_dim is not None else None)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def embed_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden, mask = self.encode(input_ids, attention_mask)
        return self.text_proj(mean_pool(hidden, mask))

    def prepare(self, batch: Batch) -> Batch:
        _unique_images(batch["image_ids"])  # over the global batch: a rank's shard alone would miss a pair
        return batch

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:
        _unique_images(batch["image_ids"])
        text = self.embed_text(batch["input_ids"], batch["attention_mask"])
        if self.image_proj is not None:
            other = self.image_proj(batch["image_features"].to(text.dtype).mean(dim=1))
        else:
            other = self.embed_text(batch["pair_input_ids"], batch["pair_attention_mask"])
        # Data-parallel: every rank scores the global batch (its negatives), so each computes the
        # single-process loss; gather_rows's backward and DDP's average keep the gradient exact.
        text, other = distributed.gather_rows(text), distributed.gather_rows(other)
        scale = self.logit_scale.clamp(0, math.log(100)).exp()
        logits = scale * F.normalize(text, dim=-1) @ F.normalize(other, dim=-1).T
        target = torch.arange(len(logits), device=logits.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        with torch.no_grad():
            hits = (logits.argmax(1) == target).float().mean() + (logits.argmax(0) == target).float().mean()
        return loss, {"loss": loss.item(), "accuracy": hits.item() / 2, "logit_scale": scale.item()}


MASK_PROB = 0.15  # BERT's share of tokens chosen for prediction (80/10/10 mask/random/kept)


class MaskedLM(Objective):
    """Masked caption-token prediction, optionally conditioned on a visual prefix.

    BERT masking: 15% of the non-special text tokens are chosen; of those 80% become ``<mask>``, 10%
    a random token, 10% stay. Draws come from the objective's own seeded generator (checkpointed).
    The prefix (``image_dim`` given) is never masked nor predicted. Head: ``transform``
    (Linear-GELU-LayerNorm) and a decoder whose weight is the encoder's word embedding matrix
    (tied, so only ``decoder_bias`` is new). Heads: ``prefix_proj`` (with a prefix), ``transform``,
    ``decoder_bias``.

    ``vocabulary``: the token ids the decoder scores (the candidate set; ``None``: every piece).
    Scoring only the pieces of the training captions instead of all 250k turns the step's largest
    cost on CPU - two passes over a 250k x H matrix per step, memory-bound - into a small one; a
    masked token outside the set (possible in held-out text) counts as a miss.
    """

    memoizable = False  # inputs are masked afresh at every step: no state is ever seen twice

    def __init__(self, encoder: nn.Module, tokenizer: Any, *, image_dim: int | None = None,
                 mask_prob: float = MASK_PROB, vocabulary: Sequence[int] | None = None, seed: int = 0) -> None:
        super().__init__(encoder, image_dim, seed=seed)
        hidden = int(encoder.config.hidden_size)
        eps = float(getattr(encoder.config, "layer_norm_eps", 1e-12))
        self.transform = _seeded(seed + 4, lambda: nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(),
                                                                nn.LayerNorm(hidden, eps=eps)))
        n_vocab = int(encoder.config.vocab_size)
        candidates = torch.arange(n_vocab) if vocabulary is None else torch.tensor(sorted(set(vocabulary)))
        if candidates.numel() == 0 or int(candidates.min()) < 0 or int(candidates.max()) >= n_vocab:
            raise ValueError(f"MaskedLM vocabulary must be non-empty token ids below {n_vocab}")
        self.register_buffer("candidates", candidates, persistent=False)
        position = torch.full((n_vocab,), IGNORE, dtype=torch.int64)
        position[candidates] = torch.arange(len(candidates))
        self.register_buffer("position_of", position, persistent=False)  # token id -> decoder row
        self.full_vocabulary = vocabulary is None
        self.decoder_bias = nn.Parameter(torch.zeros(len(candidates)))
        self.mask_prob = mask_prob
        self.mask_id = int(tokenizer.mask_token_id)
        self.random_vocab = len(tokenizer)  # random replacements come from real pieces only
        self.register_buffer("special_ids", torch.tensor(sorted(tokenizer.all_special_ids)), persistent=False)
        self.generator = torch.Generator().manual_seed(seed)

    def generators(self) -> dict[str, torch.Generator]:
        return {"mask": self.generator}

    def mask_tokens(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``(masked input_ids, labels)``; labels are ``IGNORE`` except at the chosen positions."""
        g, shape = self.generator, input_ids.shape
        # Fixed-shape draws on CPU: how much of the stream is consumed depends on shapes only.
        chosen_r, action_r = torch.rand(shape, generator=g), torch.rand(shape, generator=g)
        random_tokens = torch.randint(self.random_vocab, shape, generator=g)
        ids, mask = input_ids.cpu(), attention_mask.cpu().bool()
        candidates = mask & ~torch.isin(ids, self.special_ids.cpu())
        chosen = candidates & (chosen_r < self.mask_prob)
        if not chosen.any():  # never an empty loss: predict the first candidate
            first = candidates.flatten().nonzero()[:1]
            chosen.view(-1)[first] = True
        labels = torch.where(chosen, ids, IGNORE)
        masked = torch.where(chosen & (action_r < 0.8), self.mask_id, ids)
        masked = torch.where(chosen & (action_r >= 0.8) & (action_r < 0.9), random_tokens, masked)
        return masked.to(input_ids.device), labels.to(input_ids.device)

    def prepare(self, batch: Batch) -> Batch:
        """Mask the global batch: the same draws from ``self.generator`` as one process makes,
        whichever share of the rows a rank then keeps."""
        if "labels" in batch:
            return batch
        input_ids, labels = self.mask_tokens(batch["input_ids"], batch["attention_mask"])
        return batch | {"input_ids": input_ids, "labels": labels}

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:
        if "labels" in batch:
            input_ids, labels = batch["input_ids"], batch["labels"]
        else:
            input_ids, labels = self.mask_tokens(batch["input_ids"], batch["attention_mask"])
        hidden, _ = self.encode(input_ids, batch["attention_mask"], batch.get("image_features"))
        text_hidden = hidden[:, hidden.shape[1] - input_ids.shape[1]:]  # drop the prefix positions
        where = labels != IGNORE
        h = self.transform(text_hidden[where])  # only the predicted positions meet the decoder
        words = self.encoder.embeddings.word_embeddings.weight
        weight = words if self.full_vocabulary else words[self.candidates]
        logits = F.linear(h, weight.to(h.dtype), self.decoder_bias)
        target = self.position_of[labels[where]]  # IGNORE for a token outside the candidates
        known = target != IGNORE
        if (n := distributed.sharded_world()) > 1:
            return self._sharded_loss(logits, target, known, n)
        loss = F.cross_entropy(logits.float(), target, ignore_index=IGNORE) if known.any() \
            else logits.sum() * 0.0
        accuracy = (logits.argmax(-1) == target).float().mean()  # outside the candidates: a miss
        return loss, {"loss": loss.item(), "accuracy": accuracy.item(), "masked_tokens": float(target.numel())}

    @staticmethod
    def _sharded_loss(logits: Tensor, target: Tensor, known: Tensor, n: int) -> tuple[Tensor, Stats]:
        """The mean over the GLOBAL batch's masked tokens: a rank's masked-token count differs from the
        others', so its sum is divided by the global count, times ``n`` for DDP's gradient average;
        stats likewise, so that their average over ranks is the single-process value."""
        counts = torch.stack([known.sum(), torch.tensor(target.numel(), device=known.device)])
        n_known, n_masked = distributed.total(counts)
        per_rank = n / n_known.clamp(min=1)
        loss = F.cross_entropy(logits.float(), target, ignore_index=IGNORE, reduction="sum") * per_rank
        hits = (logits.argmax(-1) == target).sum()
        return loss, {"loss": loss.item(), "accuracy": (hits * n / n_masked.clamp(min=1)).item(),
                      "masked_tokens": float(n_masked)}


class AnswerClassification(Objective):
    """VQA as multi-label classification over an answer vocabulary with soft scores.

    Mean-pooled question (+ visual prefix) representation -> MLP (Linear-GELU-LayerNorm-Linear, as in
    the bottom-up/LXMERT VQA heads) -> logits ``[B, A]``; binary cross-entropy against the soft
    scores, summed over answers and averaged over questions (the VQA recipe). Accuracy: the soft
    score of the arg-max answer. Heads: ``prefix_proj`` (with a prefix), ``classifier``.
    """

    def __init__(self, encoder: nn.Module, *, num_answers: int, image_dim: int | None = None, seed: int = 0) -> None:
        super().__init__(encoder, image_dim, seed=seed)
        hidden = int(encoder.config.hidden_size)
        eps = float(getattr(encoder.config, "layer_norm_eps", 1e-12))
        self.classifier = _seeded(seed + 5, lambda: nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.LayerNorm(2 * hidden, eps=eps),
            nn.Linear(2 * hidden, num_answers)))

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:
        hidden, mask = self.encode(batch["input_ids"], batch["attention_mask"], batch.get("image_features"))
        logits = self.classifier(mean_pool(hidden, mask)).float()
        scores = batch["answer_scores"].to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, scores, reduction="sum") / len(scores)
        with torch.no_grad():
            accuracy = scores.gather(1, logits.argmax(1, keepdim=True)).mean()
        return loss, {"loss": loss.item(), "accuracy": accuracy.item()}


# --- image controls ------------------------------------------------------------------------------

ImageSourceKind = Literal["true", "none", "shuffled"]


def derangement(ids: Sequence[Hashable], seed: int) -> dict[Hashable, Hashable]:
    """A uniformly random permutation of ``ids`` with no fixed point, as ``{id: id it is replaced by}``.

    Depends on the set of ids and the seed only (ids are sorted first), so every epoch and every
    process sees the same shuffle. Rejection sampling: a random permutation is a derangement with
    probability ~1/e, so a few draws suffice.
    """
    keys = sorted(ids)  # type: ignore[type-var]
    if len(set(keys)) != len(keys):
        raise ValueError("derangement: ids must be unique")
    if len(keys) == 1:
        raise ValueError("derangement: a single id cannot be moved")
    g = torch.Generator().manual_seed(seed)
    n = len(keys)
    while True:
        perm = torch.randperm(n, generator=g)
        if not (perm == torch.arange(n)).any():
            return {keys[i]: keys[int(j)] for i, j in enumerate(perm)}


class ImageSource:
    """Which image's features an item sees: its own (``true``), none (``none``, text only), or
    another image's, fixed per image for the whole run (``shuffled``: a seeded derangement over
    ``image_ids``, so no item keeps its own image and all captions of an image share the swap)."""

    def __init__(self, kind: ImageSourceKind, image_ids: Sequence[Hashable] = (), seed: int = 0) -> None:
        if kind not in ("true", "none", "shuffled"):
            raise ValueError(f"unknown image source {kind!r}")
        self.kind = kind
        self.mapping = derangement(image_ids, seed) if kind == "shuffled" else None

    def __call__(self, image_id: Hashable) -> Hashable | None:
        """The id of the image whose features stand in for ``image_id`` (``None``: no image)."""
        if self.kind == "none":
            return None
        return self.mapping[image_id] if self.mapping is not None else image_id

    def features(self, image_ids: Sequence[Hashable], bank: Tensor, row_of: dict[Hashable, int]) -> Tensor | None:
        """Gather ``[B, P, D]`` from a feature bank ``[N, P, D]`` whose row of image id ``i`` is
        ``row_of[i]``; ``None`` for ``none``."""
        if self.kind == "none":
            return None
        return bank[torch.tensor([row_of[self(i)] for i in image_ids])]
