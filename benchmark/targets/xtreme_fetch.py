"""What ``benchmark fetch --profile`` does for XTREME after downloading (the spec's ``fetcher``): each
task's fetched URL files (its test files, and its English training data where a reader takes them)
extracted into ``data/full/xtreme/<task>``, where :func:`benchmark.targets.xtreme.root` finds them. Only
``fetch`` imports this module, so no stage depends on the download code.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.data import xtreme, xtreme_unpack
from benchmark.data.resolve import url_file
from benchmark.targets.xtreme import Config


def unpack(cfg: Config, dest: Path) -> None:
    """``dest`` is the upstream snapshot (``data/full``), where ``fetch`` put each URL's file by name."""
    for name in cfg.tasks:
        spec = xtreme.TARGETS[name]
        pins = [spec.upstream, *([spec.train_source] if spec.train_layout else [])]
        urls = [u for pin in pins for u in pin.urls]
        if urls:
            files = [dest / "url" / url_file(u) for u in dict.fromkeys(urls)]
            xtreme_unpack.unpack(name, files, dest / "xtreme" / name)  # = extracted(<data>, name)
