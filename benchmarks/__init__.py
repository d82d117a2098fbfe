"""Benchmarks: quality against baselines, cost against a floor; each writes ``<name>.md`` and ``<name>.json``.

Results go under ``results/`` of the current folder (run them in the repository, whose results/ is
committed), or under ``$GREC_RESULTS``.
"""

import os

RESULTS = os.environ.get("GREC_RESULTS", "results")
