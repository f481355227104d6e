"""Statistics over per-item predictions: is an arm's margin over another real, and where?

``stats``: the paired cluster bootstrap, tests across languages, Holm. ``margins``: loads and
validates predictions and builds the tidy margin tables the report shows, by the language groups of
:mod:`benchmark.models.coverage`.
"""
