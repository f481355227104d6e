"""Imported by Hydra's plugin scan when DVC composes params.yaml (``.dvc/config``: hydra.plugins_path):
registers the resolver behind ``checked_by`` in ``benchmark/conf/config.yaml``, so a bad ``dvc exp run
-S`` value stops the composition itself, before DVC checks out (and so unlinks) a single output."""

from benchmark.config import register_checks

register_checks()
