"""AliExpress (Tianchi 74690) to task examples.

The preprocessed release ships one folder per country, each with a train and a
test file in the wide layout ``search_id, categorical_1..16, numerical_1..63,
click, conversion``::

    ROOT/AliExpress_NL/train.csv   ROOT/AliExpress_NL/test.csv   (likewise ES, FR, RU, US)

This command converts every file it finds to task examples (tasks ``ctr`` from
``click``, ``ctcvr`` from ``conversion``; ``country`` from the folder name)::

    python -m data_tools.aliexpress --input ROOT --out data/aliexpress

writing ``OUT/train/<CC>.csv`` and ``OUT/eval/<CC>.csv`` (test files become the
eval split) and any bad rows to ``OUT/rejected/<split>_<CC>.csv``. Labels are accepted in
{0, 1, 2}, a value > 0 being a positive.
The data cannot be downloaded here; ``tests/fixtures/aliexpress`` holds a small
file in the exact layout.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

import schemas
from components.feature_spec import FeatureSpecError, load_feature_spec
from data_tools.wide_to_tasks import BadRowError, convert

SPEC_PATH = schemas.path("aliexpress", "feature_spec.yaml")
ALLOWED_LABELS = ("0", "1", "2")
SPLITS = {"train": "train", "test": "eval"}


def convert_tree(input_root: str, out_root: str, strict: bool = False) -> list[tuple[str, object]]:
    """Converts every ``AliExpress_<CC>/{train,test}.csv`` under ``input_root``.

    Returns:
        (input file, ConversionReport) pairs.

    Raises:
        FileNotFoundError: no country folder with train/test files under input_root.
    """
    spec = load_feature_spec(os.path.normpath(SPEC_PATH))
    reports = []
    for folder in sorted(glob.glob(os.path.join(input_root, "AliExpress_*"))):
        match = re.fullmatch(r"AliExpress_([A-Z]{2})", os.path.basename(folder))
        if not match:
            continue
        for source, split in SPLITS.items():
            path = os.path.join(folder, f"{source}.csv")
            if os.path.exists(path):
                out = os.path.join(out_root, split, f"{match.group(1)}.csv")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                rejected = os.path.join(out_root, "rejected", f"{split}_{match.group(1)}.csv")
                report = convert(spec, path, out, {"country": match.group(1)}, ALLOWED_LABELS, strict, rejected)
                reports.append((path, report))
    if not reports:
        raise FileNotFoundError(f"{input_root}: no AliExpress_<CC>/train.csv or test.csv files found")
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="folder holding AliExpress_<CC>/ folders")
    parser.add_argument("--out", default="data/aliexpress", help="output folder (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad row")
    args = parser.parse_args(argv)
    try:
        reports = convert_tree(args.input, args.out, args.strict)
    except (FileNotFoundError, FeatureSpecError, BadRowError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path, report in reports:
        print(f"{path}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
