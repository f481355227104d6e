"""The checks that need a GPU, as one short script for a lent machine (see docs/cuda.md).

1. Every training objective (the tests' tiny encoder and items), trained twice on the device under
   ``torch.use_deterministic_algorithms(True)`` (bf16 autocast on CUDA): an op with no deterministic
   CUDA kernel raises there and is reported; otherwise the two runs' weights must be bit-identical.
2. One bf16 AdamW step of the real XLM-R-large geometry (benchmark.plan.measure_step): seconds,
   tokens/s, TFLOP/s and MFU against 989 TFLOP/s, peak memory.

    python scripts/gpu_check.py [--device cuda] [--rows 128] [--out gpu_check.json]

Prints one JSON object; exits 1 if a pair of runs differs or an op raised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def _weights_digest(checkpoint: Path) -> str:
    from safetensors.torch import load_file

    h = hashlib.sha256()
    for path in sorted(checkpoint.glob("*.safetensors")):
        for name, t in sorted(load_file(path).items()):
            h.update(name.encode() + t.float().cpu().numpy().tobytes())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--rows", type=int, default=128, help="rows of the XLM-R-large step (full: training.batch_size)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from test_training import KINDS, _cfg, make

    from benchmark.plan import measure_step

    precision = "bf16" if args.device.startswith("cuda") else "fp32"
    report: dict = {"device": args.device, "precision": precision, "objectives": {}}
    ok = True
    for kind in KINDS:
        digests, error = [], None
        for attempt in range(2):
            obj, data = make(kind)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    final = _cfg(steps=args.steps).train(obj, data, tmp, precision=precision, device=args.device,
                                                         progress=False)
                    digests.append(_weights_digest(final))
            except RuntimeError as err:  # use_deterministic_algorithms: an op without a deterministic kernel
                error = str(err).splitlines()[0]
                break
        same = error is None and digests[0] == digests[1]
        ok &= same
        report["objectives"][kind] = {"bit_identical": same, "error": error, "sha256": digests[:1]}
        print(f"{kind}: {'identical' if same else 'DIFFERS' if error is None else 'RAISED ' + error}", file=sys.stderr)
    report["xlmr_large_step"] = measure_step(args.device, args.rows, 128, repeats=3)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
