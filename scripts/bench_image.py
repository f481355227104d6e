#!/usr/bin/env python
"""Throughput of the MobileNetV2 image encoder (``ImageEncoder.features``) on real COCO JPEGs.

Every JPEG under ``--coco-dir`` (COCO mini: train2017 + val2017) is read into memory once; a timed
run then decodes, preprocesses (resize/crop/normalise) and encodes all of them in batches. It prints
end-to-end images/s (what a feature-extraction stage sees) and the forward pass alone, each the
median of ``--runs`` runs after a warm-up (oneDNN picks kernels per input shape on first use).

    python scripts/bench_image.py [--batch-size 32] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark.io import BenchmarkError  # noqa: E402
from benchmark.models.image import load_image_encoder  # noqa: E402


def _decode(blob: bytes) -> Image.Image:
    with Image.open(io.BytesIO(blob)) as im:
        return im.convert("RGB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3, help="timed runs (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--micro-batch", type=int, default=None, help="override the encoder's micro_batch (0: none)")
    ap.add_argument("--coco-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "coco" / "mini")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    files = sorted(args.coco_dir.rglob("*.jpg"))
    if not files:
        raise BenchmarkError(f"no JPEGs under {args.coco_dir}")
    blobs = [f.read_bytes() for f in files]
    enc = load_image_encoder("mobilenet_v2")
    if args.micro_batch is not None:
        enc.micro_batch = args.micro_batch or None
    batches = [blobs[i : i + args.batch_size] for i in range(0, len(blobs), args.batch_size)]
    print(
        f"{len(blobs)} JPEGs from {args.coco_dir}; batch {args.batch_size}; "
        f"micro-batch {enc.micro_batch}; threads {torch.get_num_threads()}; torch {torch.__version__}"
    )

    # Warm-up on every distinct batch shape (a short last batch is a new one).
    for batch in {len(b): b for b in batches}.values():
        enc.features([_decode(b) for b in batch])

    end_to_end: list[float] = []
    forward: list[float] = []
    for run in range(args.runs):
        t_all = time.perf_counter()
        t_fwd = 0.0
        for batch in batches:
            pixels = enc.preprocess([_decode(b) for b in batch])
            t = time.perf_counter()
            with torch.inference_mode():
                step = enc.micro_batch or len(pixels)
                for i in range(0, len(pixels), step):
                    enc.grid(pixels[i : i + step])
            t_fwd += time.perf_counter() - t
        end_to_end.append(time.perf_counter() - t_all)
        forward.append(t_fwd)
        print(f"run {run + 1}: {end_to_end[-1]:.2f}s (forward {t_fwd:.2f}s)", flush=True)

    n = len(blobs)
    med, med_fwd = statistics.median(end_to_end), statistics.median(forward)
    print(f"end to end (decode + preprocess + forward): {n / med:.1f} images/s (median {med:.2f}s of {args.runs})")
    print(f"forward only: {n / med_fwd:.1f} images/s (median {med_fwd:.2f}s of {args.runs})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
