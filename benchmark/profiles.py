"""The profiles, smallest first: one preset each in ``benchmark/conf/profile/<name>.yaml`` (tested).

Its own module, free of pydantic, so that ``benchmark --help`` lists them without loading the schema.
"""

from __future__ import annotations

from typing import Literal, get_args

Profile = Literal["tiny", "smoke", "mini", "full"]
PROFILES: tuple[str, ...] = get_args(Profile)
