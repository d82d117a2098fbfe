"""LightGBM's tables in the quality benchmark: the file's columns under the spec's (renamed) names, and text
either as one category or as TF-IDF terms (``lightgbm_tfidf``, the text baseline a LightGBM user writes)."""

import numpy as np

from benchmarks.quality.learners import TFIDF_TERMS, lightgbm_sets, train_lightgbm
from components.feature_spec import parse_feature_spec


def _frames(rng, rows):
    """Every review unique; the label is whether it says 'great' (1) or 'poor' (0), with 10 % noise."""
    good = rng.random(rows) < 0.5
    filler = [" ".join(f"w{int(k)}" for k in rng.integers(0, 300, 6)) for _ in range(rows)]
    text = np.array([f"{f} {'great' if g else 'poor'} {i}" for i, (f, g) in enumerate(zip(filler, good, strict=True))])
    label = np.where(rng.random(rows) < 0.9, good, ~good).astype(int).astype(str)
    return {"Review Text": text, "Class Name": rng.choice(["a b", "c d"], rows), "ok": label}


def test_text_as_tfidf_terms_is_learned_where_one_category_per_text_is_not():
    spec = parse_feature_spec(
        {
            "columns": {
                "task": "task",
                "label": "label",
                "Review_Text": "text",
                "Class_Name": "categorical",
            },
            "wide_labels": {"ok": "ok"},
            "wide_names": {"Review Text": "Review_Text", "Class Name": "Class_Name"},
        }
    )
    rng = np.random.default_rng(0)
    splits = {"fit": _frames(rng, 3000), "valid": _frames(rng, 500), "test": _frames(rng, 1000)}
    plain = lightgbm_sets(splits, spec)
    tfidf = lightgbm_sets(splits, spec, name="lightgbm_tfidf")
    assert list(plain["ok"]["fit"][0].columns) == ["Review_Text", "Class_Name"]  # the spec's names
    columns = list(tfidf["ok"]["test"][0].columns)
    assert columns[-1] == "Class_Name" and 100 < len(columns) - 1 <= TFIDF_TERMS  # every word in >= 5 rows
    from sklearn.metrics import roc_auc_score

    y = splits["test"]["ok"].astype(int)
    auc = {name: roc_auc_score(y, train_lightgbm(sets)[0]["ok"]) for name, sets in (("plain", plain), ("tfidf", tfidf))}
    assert auc["tfidf"] > 0.85 and auc["plain"] < 0.6, auc  # 90 % is the ceiling; a unique text is no category
