"""A toy textual task, declared outside the package the way a plugin declares one (tests/test_extending.py
installs it under the entry-point group ``benchmark.tasks``): one spec in a format and layout the
package knows. It reads the bundled HellaSwag items with half of them held out (HellaSwag's own spec
holds out a tenth), so the generated arm ``toy-hellaswag`` trains on data the bundle already has.
"""

from __future__ import annotations

from benchmark.data.tasks import HubPin, TaskSpec
from benchmark.schema import declare

TASKS = (
    declare(
        TaskSpec,
        name="toy_hellaswag", paper_name="HellaSwag (toy split)",
        description="HellaSwag's bundled validation items, half held out by source clip: a test of the plugin path",
        format="choice", num_labels=4, metric="accuracy", chance=0.25,
        license="MIT", license_url="https://github.com/rowanz/hellaswag/blob/master/LICENSE",
        citation="@inproceedings{zellers2019hellaswag, title={HellaSwag}, booktitle={ACL}, year={2019}}",
        homepage="https://rowanzellers.com/hellaswag/", group_by="clip",
        upstream=(HubPin(name="hellaswag", repo="Rowan/hellaswag", revision_unresolved="a toy: never fetched",
                         layout="hellaswag", train_split="train", heldout_split="validation"),),
        bundled="hellaswag.parquet", heldout_share=0.5,
    ),
)
