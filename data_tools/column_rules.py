"""How the drafter decides one column's role from a sample of its values: the rules and their thresholds.

``guess_column`` returns a ``Guess`` (the spec entry, the reason, the rule that decided it: ``RULES``);
``data_tools.draft_spec`` reads the file, applies these per column and writes the spec.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
from collections.abc import Sequence

from components.roles import DEFAULT_TEXT_TOKENS, DEFAULT_TEXT_VOCAB, TEXT_PUNCTUATION, VALUE_MIN_COUNT
from components.row_check import INT_PATTERN, MISSING_MARKERS, is_number

MAX_INT_LEVELS = 20  # rationale: codes (education level, 1-5 ratings, industry codes) vs counts and amounts
# Words of a column name (split at anything but letters and digits) that decide an integer column's role.
CODE_WORDS = ("code", "recode", "type", "kind", "class", "category", "cat", "group", "flag", "status")
# (Not "num": UCI Adult's `education-num` is a code.)
COUNT_WORDS = tuple(
    "age count children hours weeks days years amount price income wage salary gain loss total size qty "
    "quantity".split()
)
# A string column is categorical when its values repeat: each distinct value seen on average at least
# 1 / REPEAT_MAX_SHARE times (enough rows to train its embedding) ...
REPEAT_MAX_SHARE = 0.05
# ... or, in a sample of HEAD_MIN_ROWS rows or more, its HEAD_VALUES most frequent values cover
# HEAD_COVERAGE of the rows (a long tail of rare values is what OOV buckets are for).
HEAD_VALUES = 50
HEAD_COVERAGE = 0.9
HEAD_MIN_ROWS = 500  # rationale: 10 x HEAD_VALUES, so a covering head means repetition, not a small sample
HEAVY_TAIL_SKEW = 2.0  # rationale: sample skewness above 2 is "highly skewed" by the usual rule of thumb
# Numerical columns with more distinct values also feed 32 quantile-bucket ids beside the z-score.
# UCI Adult, GRec, 3 seeds (results/real_data_adult*.md): income AP 0.7106 +- 0.0043 with the z-score
# alone, 0.7301 +- 0.0023 with the buckets (married 0.7829 -> 0.7837). log1p for the heavy-tailed
# columns (capital-gain/loss) added nothing beside the buckets (0.7276 +- 0.0024) and at one seed
# without them cost income AP (0.679 vs 0.711): it stays an option, not a default.
DRAFT_BUCKETS = 32
# Numerical columns with at most this many distinct values in the sample also feed an id per frequent
# exact value (`value_ids`). UCI Adult (results/real_data_adult.md): capital-gain has 92 % zeros and
# ~120 other values, so its 32 quantile buckets collapse to 3 and neither the z-score nor log1p nor
# periodic embeddings let a deep model see that 7,688 or 15,024 all but decide income; a tree splits
# there. With the ids on its four columns of <= 256 values, GRec's mean AP over both tasks went
# 0.757 -> 0.818 (3 seeds; LightGBM per task 0.816). fnlwgt (a sampling weight, ~15,000 values) gets
# none: ids for its 3,309 values seen 5+ times overfit (0.818 -> 0.800 at one seed).
DRAFT_VALUE_IDS = 256
# A text column's length and vocabulary, from its sample, when the defaults would cut it short:
TEXT_LENGTH_QUANTILE = 0.9  # rationale: nine rows in ten are read whole; a long tail is truncated
MAX_DRAFT_TOKENS = 128  # rationale: the encoder's attention cost grows with the square of the length
MAX_DRAFT_TEXT_VOCAB = 10_000  # rationale: bounds the token table; rarer words share the OOV id
# A categorical column with more distinct values than this in the sample grows with the data (users,
# items): the drafter bounds its table, keeping the values seen VALUE_MIN_COUNT+ times in training and at
# most DRAFT_MAX_IDS of them (`min_count`, `max_ids`); the rest share its OOV ids.
MANY_IDS = 5_000  # rationale: in the default 20,000-row sample, a new value every fourth row or more often
DRAFT_MAX_IDS = 1_000_000  # rationale: a million rows x 32 floats is 128 MB, a table one machine holds
MIN_ROWS_FOR_KEY = 100  # a column unique in fewer rows than this may just be a small sample
TIME_NAMES = ("ts", "timestamp", "time", "event_time", "unix_time")


# The rule that decided a column, as the table's `rule` column shows it.
RULES = {
    "given": "task / label: the file's or the converter's",
    "empty": "no values in the sample: ignore",
    "constant": "one value in every row: ignore",
    "named": "named in --ignore: ignore",
    "row key": "a different value in every row: ignore",
    "time name": "whole numbers named like a time (ts, timestamp...): time",
    "weight name": "named weight: weight",
    "id name": "whole numbers whose name has the word id: categorical with OOV buckets (a row key if unique)",
    "code name": "whole numbers whose name has a CODE_WORDS word: categorical",
    "count name": "whole numbers whose name has a COUNT_WORDS word: numerical",
    "few levels": f"at most {MAX_INT_LEVELS} distinct whole numbers: categorical",
    "many levels": f"more than {MAX_INT_LEVELS} distinct whole numbers: numerical",
    "decimals": "decimal numbers: numerical",
    "vector": "space-separated numbers of one length: image_embedding",
    "repeats": "strings whose values repeat (REPEAT_MAX_SHARE, HEAD_VALUES / HEAD_COVERAGE): categorical",
    "phrases": "multi-word strings that do not repeat: text (history when named so)",
    "words": "single words that do not repeat (ids): categorical",
    "single role": "a second image column: ignore (the model has one image token)",
}
# Reasons to ignore a column that lose nothing the user gave (``--strict`` accepts them).
UNINFORMATIVE = ("empty", "constant", "named")


@dataclasses.dataclass
class Guess:
    """What the drafter decided for one column, by which rule (a ``RULES`` key) and why."""

    name: str
    entry: dict
    why: str
    review: bool = False
    rule: str = ""


def _skewness(values: Sequence[float]) -> float:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / n
    if var == 0:
        return 0.0
    return sum((v - mean) ** 3 for v in values) / n / var**1.5


def _name_word(name: str, words: Sequence[str]) -> str | None:
    """The first word of ``name`` (split at non-alphanumerics, lower case) that is in ``words``."""
    return next((w for w in re.split(r"[^a-z0-9]+", name.lower()) if w in words), None)


def _repeats(present: Sequence[str], distinct: int) -> str | None:
    """Why the values repeat (a categorical), or None."""
    n = len(present)
    if distinct <= REPEAT_MAX_SHARE * n:
        return f"{distinct} distinct values in {n} rows ({n / distinct:.0f} rows each on average)"
    if n >= HEAD_MIN_ROWS:
        head = sum(count for _, count in collections.Counter(present).most_common(HEAD_VALUES))
        if head >= HEAD_COVERAGE * n:
            return f"{distinct} distinct values; the {HEAD_VALUES} most frequent cover {head / n:.0%} of the rows"
    return None


def _numerical(name: str, numbers: list[float], dtype: str, why: str, rule: str) -> Guess:
    entry = {"role": "numerical", "dtype": dtype}
    skew = _skewness(numbers)
    if min(numbers) >= 0 and skew > HEAVY_TAIL_SKEW:
        why += f"; heavy right tail (skewness {skew:.1f}; `transform: log1p` is an option)"
    distinct = len(set(numbers))
    if distinct > DRAFT_BUCKETS:
        entry["buckets"] = DRAFT_BUCKETS
        why += f"; + {DRAFT_BUCKETS} quantile buckets"
    if distinct <= DRAFT_VALUE_IDS:
        entry["value_ids"] = DRAFT_VALUE_IDS
        why += "; + an id per frequent value"
    return Guess(name, entry, why, rule=rule)


def guess_column(name: str, values: Sequence[str]) -> Guess:
    """The role and dtype of one (non-label) column from its sampled values; a categorical column of more
    than ``MANY_IDS`` distinct values gets bounded ids."""
    guess = _guess_role(name, values)
    if guess.entry["role"] != "categorical":
        return guess
    distinct = len({v for v in values if v})
    if distinct > MANY_IDS:
        guess.entry.update(min_count=VALUE_MIN_COUNT, max_ids=DRAFT_MAX_IDS)
        guess.why += (
            f"; {distinct} distinct in {len(values)} rows, growing with the data: ids for values seen "
            f"{VALUE_MIN_COUNT}+ times, at most {DRAFT_MAX_IDS:,} (`min_count`, `max_ids`; `hash_buckets` is an option)"
        )
        guess.review = True
    return guess


def _guess_role(name: str, values: Sequence[str]) -> Guess:
    """The role and dtype of one (non-label) column from its sampled values."""
    present = [v for v in values if v not in MISSING_MARKERS]
    markers = sorted({v for v in values if v in MISSING_MARKERS and v})
    missing = f", {len(values) - len(present)} missing" if len(present) < len(values) else ""
    distinct = len(set(present))
    if not present:
        return Guess(name, {"role": "ignore", "dtype": "string"}, "no values in the sample", True, "empty")
    if distinct == 1:
        return Guess(
            name, {"role": "ignore", "dtype": "string"}, f"one value ({present[0]!r}) in every row", rule="constant"
        )
    if all(INT_PATTERN.match(v) for v in present):
        if name in TIME_NAMES and not missing:
            return Guess(name, {"role": "time", "dtype": "int"}, "whole numbers named like a time", rule="time name")
        if name == "weight":
            return Guess(name, {"role": "weight", "dtype": "float"}, "named weight", rule="weight name")
        # A `?` marker makes CsvExampleGen read the whole column as strings.
        dtype = "string" if markers else "int"
        if _name_word(name, ("id",)):  # user_id, "Clothing ID", id
            keyish = distinct == len(present) and len(present) >= MIN_ROWS_FOR_KEY
            if keyish:
                return Guess(
                    name, {"role": "ignore", "dtype": dtype}, "an id unique in every row: a row key", True, "row key"
                )
            return Guess(
                name,
                {"role": "categorical", "dtype": dtype, "oov_buckets": 10},
                f"an id ({distinct} distinct): embedded, unseen ids share 10 OOV buckets",
                True,
                "id name",
            )
        code, count = _name_word(name, CODE_WORDS), _name_word(name, COUNT_WORDS)
        if code:
            return Guess(
                name,
                {"role": "categorical", "dtype": dtype},
                f"{distinct} distinct whole numbers: codes (named {code!r}){missing}",
                rule="code name",
            )
        if distinct <= MAX_INT_LEVELS and not count:
            return Guess(
                name,
                {"role": "categorical", "dtype": dtype},
                f"{distinct} distinct whole numbers: codes{missing}",
                rule="few levels",
            )
        why = f"{distinct} distinct whole numbers{missing}" + (
            f" (named {count!r}: a count or amount)" if count else ""
        )
        return _numerical(name, [float(v) for v in present], "int", why, "count name" if count else "many levels")
    if all(is_number(v) for v in present):
        if name == "weight":
            return Guess(name, {"role": "weight", "dtype": "float"}, "named weight", rule="weight name")
        return _numerical(name, [float(v) for v in present], "float", f"decimal numbers{missing}", "decimals")
    tokens = [v.split() for v in present]
    lengths = {len(t) for t in tokens}
    if len(lengths) == 1 and lengths != {1} and all(is_number(x) for t in tokens[:200] for x in t):
        dim = lengths.pop()
        return Guess(
            name,
            {"role": "image_embedding", "dtype": "string", "dim": dim},
            f"{dim} space-separated numbers in every row: a vector",
            True,
            "vector",
        )
    # In a word column a marker such as `?` is one more category; only empty cells are missing.
    note = f" ({', '.join(repr(m) for m in markers)} kept as a value)" if markers else ""
    empty = sum(1 for v in values if not v)
    repeats = _repeats(present, distinct)
    if repeats:
        return Guess(
            name,
            {"role": "categorical", "dtype": "string"},
            repeats + note + (f", {empty} empty" if empty else ""),
            rule="repeats",
        )
    mean_tokens = sum(len(t) for t in tokens) / len(tokens)
    if mean_tokens > 1.5:
        role = "history" if "hist" in name else "text"
        options, sized = ({}, "") if role == "history" else text_size(present)
        return Guess(
            name,
            {"role": role, "dtype": "string", **options},
            f"{mean_tokens:.1f} words per row, {distinct} distinct: free {role}{sized}; check its options",
            True,
            "phrases",
        )
    if distinct == len(present) and len(present) >= MIN_ROWS_FOR_KEY:
        return Guess(
            name, {"role": "ignore", "dtype": "string"}, "a different value in every row: a row key", True, "row key"
        )
    return Guess(
        name,
        {"role": "categorical", "dtype": "string"},
        f"{distinct} distinct words{note}" + (f", {empty} empty" if empty else ""),
        rule="words",
    )


def text_words(value: str) -> list[str]:
    """The words Transform makes of a text value (components.preprocessing: lower-cased, punctuation off; Python
    lower-cases every script where Transform's tf.strings.lower does ASCII, which only shifts a count)."""
    return re.sub(TEXT_PUNCTUATION, " ", value.lower()).split()


def text_size(values: Sequence[str]) -> tuple[dict, str]:
    """(``max_tokens`` / ``vocab_size`` options, the reason) for a text column whose sample would be cut
    short by the defaults: the length that reads ``TEXT_LENGTH_QUANTILE`` of the rows whole, and a word
    for each word in at least ``VALUE_MIN_COUNT`` rows (+ padding and OOV), within the caps."""
    words = [text_words(v) for v in values]
    lengths = sorted(len(w) for w in words)
    length = lengths[max(0, math.ceil(TEXT_LENGTH_QUANTILE * len(lengths)) - 1)]  # the smallest covering q
    rows_with = collections.Counter(word for w in words for word in set(w))
    vocab = sum(1 for n in rows_with.values() if n >= VALUE_MIN_COUNT) + 2
    options, why = {}, []
    if length > DEFAULT_TEXT_TOKENS:
        options["max_tokens"] = min(length, MAX_DRAFT_TOKENS)
        share = f"{TEXT_LENGTH_QUANTILE:.0%}"
        why.append(f"{share} of rows have at most {length} words: max_tokens {options['max_tokens']}")
    if vocab > DEFAULT_TEXT_VOCAB:
        options["vocab_size"] = min(vocab, MAX_DRAFT_TEXT_VOCAB)
        why.append(f"{vocab - 2} words in {VALUE_MIN_COUNT}+ rows: vocab_size {options['vocab_size']}")
    return options, "".join(f"; {w}" for w in why)
