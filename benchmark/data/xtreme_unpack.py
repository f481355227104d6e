"""XTREME's official archives, as ``benchmark fetch`` downloaded and verified them, extracted where the
readers look (``data/full/xtreme/<task>/``, laid out as :attr:`benchmark.data.xtreme.XtremeTarget.layout`
says), as xtreme's scripts/download_data.sh extracts them. Nothing here downloads.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from benchmark.io import BenchmarkError, atomic_dir

PANX_SPLITS = ("dev", "test", "train")


def extract(archive: Path, into: Path) -> None:
    """A zip or tar archive's members under ``into`` (none may leave it), or a plain file copied there."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            bad = next((n for n in z.namelist() if PurePosixPath(n).is_absolute() or ".." in PurePosixPath(n).parts),
                       None)
            if bad is not None:
                raise BenchmarkError(f"{archive}: member {bad!r} would be written outside the folder")
            z.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            try:
                t.extractall(into, filter="data")  # refuses links and paths out of ``into``
            except tarfile.FilterError as err:
                raise BenchmarkError(f"{archive}: {err}") from None
    else:
        shutil.copy2(archive, into / archive.name)


def _panx(root: Path) -> None:
    """AmazonPhotos.zip holds ``<lang>.tar.gz``, each with ``dev``, ``test``, ``train`` (and ``extra``):
    download_panx extracts each and renames them ``<lang>-<split>``."""
    for inner in sorted(root.rglob("*.tar.gz")):
        lang = inner.name.removesuffix(".tar.gz")
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            extract(inner, Path(tmp))
            for split in PANX_SPLITS:
                if (Path(tmp) / split).is_file():
                    (Path(tmp) / split).replace(root / f"{lang}-{split}")
        inner.unlink()


# What download_data.sh does after extracting, where it does more than extract.
AFTER: dict[str, Callable[[Path], None]] = {"panx": _panx}


def unpack(name: str, files: list[Path], dest: Path) -> Path:
    """Task ``name``'s fetched ``files`` extracted into ``dest``, swapped in whole once every one is."""
    with atomic_dir(dest) as tmp:
        for path in files:
            extract(path, tmp)
        AFTER.get(name, lambda _: None)(tmp)
    return dest
