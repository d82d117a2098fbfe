"""The regression suite of real CSVs nobody here designed: each public data set drafted unedited reads every
informative column (ignored only: constants, empty columns, row keys, named columns).

The data come from registry wheels (``data_tools.public_data``; fetched once into ~/.cache/grec/wheels)."""

import pytest

from components.feature_spec import parse_feature_spec, role_summary
from data_tools import draft_spec, public_data

MOVIELENS = {
    "user_id": "categorical",
    "movie_id": "categorical",
    "timestamp": "time",
    "age": "numerical",
    "gender": "categorical",
    "occupation": "categorical",
    "zip_code": "categorical",
    "title": "text",
    "release_year": "numerical",
    "genres": "categorical",
}

ROLES = {
    "adult": {
        "age": "numerical",
        "workclass": "categorical",
        "fnlwgt": "numerical",
        "education": "categorical",
        "educational-num": "categorical",
        "occupation": "categorical",
        "race": "categorical",
        "gender": "categorical",
        "capital-gain": "numerical",
        "capital-loss": "numerical",
        "hours-per-week": "numerical",
        "native-country": "categorical",
    },
    # genres (word combinations that repeat) is a categorical; it was ignored while the model read one text.
    "movielens": MOVIELENS,
    # Each rating's earlier movies of its user, one field of space-separated ids: the history encoder's input.
    "movielens_history": {**MOVIELENS, "hist_movies": "history"},
    # Two free-text columns, both read; phrase-valued categoricals; names with spaces, which a served model
    # cannot take, drafted as TensorFlow writes them (RENAMED).
    "reviews": {
        "Clothing_ID": "categorical",
        "Age": "numerical",
        "Title": "text",
        "Review_Text": "text",
        "Positive_Feedback_Count": "numerical",
        "Division_Name": "categorical",
        "Department_Name": "categorical",
        "Class_Name": "categorical",
    },
    # Every answer a phrase ("1. Never Married"): categorical; region has one value in this extract.
    "wage": {
        "year": "categorical",
        "age": "numerical",
        "maritl": "categorical",
        "race": "categorical",
        "education": "categorical",
        "region": "ignore",
        "jobclass": "categorical",
        "health": "categorical",
    },
}
RENAMED = {
    "reviews": {
        "Clothing ID": "Clothing_ID",
        "Review Text": "Review_Text",
        "Positive Feedback Count": "Positive_Feedback_Count",
        "Division Name": "Division_Name",
        "Department Name": "Department_Name",
        "Class Name": "Class_Name",
    }
}
FILES = {
    "adult": "adult_train.csv",
    "movielens": "movielens.csv",
    "movielens_history": "movielens_history.csv",
    "reviews": "reviews_train.csv",
    "wage": "wage_train.csv",
    "caravan": "caravan_train.csv",
}


@pytest.mark.parametrize("name", list(FILES))
def test_each_public_data_set_drafts_every_informative_column(tmp_path, name):
    write, labels = public_data.DATASETS[name]
    write(str(tmp_path))
    spec, guesses = draft_spec.draft(str(tmp_path / FILES[name]), labels, name=name)
    roles = {column: entry["role"] for column, entry in spec["columns"].items() if column not in ("task", "label")}
    if name == "caravan":  # 85 integer-coded columns: codes by their few levels, none lost
        assert len(roles) == 85 and "ignore" not in roles.values()
        assert list(roles.values()).count("categorical") >= 80
    else:
        assert roles == ROLES[name]
    assert spec.get("wide_names", {}) == RENAMED.get(name, {})
    assert draft_spec.lost_columns(guesses) == []  # --strict passes unedited
    assert not any(g.review and "rename" in g.why for g in guesses)  # nothing for the user to rename by hand
    summary = role_summary(parse_feature_spec(spec), {g.name: g.rule for g in guesses})
    assert "ignored: none" in summary or summary.endswith("ignored: region (constant)")
