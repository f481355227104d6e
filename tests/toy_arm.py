"""A toy arm, declared outside the package the way a plugin declares one (tests/test_extending.py
installs it under the entry-point group ``benchmark.arms``): one spec over an objective and a COCO view
the package knows. Captions masked and predicted with the image as a visual prefix, as
``coco-caption-mlm``, but its control is the caption-only MLM: a second seed's worth of the same
recipe under another name, which is all the plugin path needs to show.
"""

from __future__ import annotations

from benchmark.armspec import ArmSpec

ARMS = (ArmSpec(name="toy-caption-mlm", kind="multimodal", objective="mlm", data="captions", image="true",
                description="masked caption tokens predicted with the image as a visual prefix (a plugin's arm)"),)
