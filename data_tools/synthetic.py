"""Deterministic synthetic multi-task data: a telecom-like recommender log with an oracle.

One *impression* (a user shown an offer in a business flow) yields one task
example per metric of that flow: ``(context, task) -> label``. The long format
is the data contract of ``schemas/synthetic/feature_spec.yaml``.

Planted structure (fixed here, before any model is compared):

* Tasks are ``metric x flow``: metrics ``ctr, atc, cvr, churn`` crossed with flows
  ``new_line, upgrade, trade_in, ...``; the default 8 tasks are 4 metrics x 2
  flows. ``num_tasks`` takes any value from 1 to 64 (flows are added as needed).
* Two shared latent factors per impression:
  - engagement ``E = 0.9 aff + 1.6 hist_match + 0.8 text_match + 0.3 quality + surface``
    (user-item affinity of the id latents, share of history in the item's
    category, query words naming the item's category, item quality);
  - purchase ``P = 0.5 E + 0.9 intent_words + 0.9 quality - 0.7 price_z + 1.5 discount``.
* Related tasks share factors: ``ctr ~ E``, ``atc ~ 0.7 E + 0.5 P`` (engagement
  group), ``cvr ~ P`` (purchase group, related to ``atc`` through P). The same
  metric in different flows shares its factor and differs by a flow term.
* A conflicting pair: ``churn ~ -0.9 E + 0.7 price_z - 0.6 tenure_z``, so churn
  anti-correlates with ctr (what engages a user makes them stay).
* Flow terms: each flow weights tenure, data usage and device differently
  (``upgrade`` favours long tenure, ``new_line`` short tenure and high usage), so
  the task sentence (metric + flow) carries information the metric alone lacks.
* Dense and sparse tasks: ctr 30 %, atc 25 % (dense, 20-40 %); cvr 2 %, churn
  1.5 % (sparse, 1-3 %); each flow scales its rates by 0.8-1.2. Intercepts are
  solved per task so the rates hold exactly in expectation.
* Signal in every modality: ids (affinity), numericals (price, tenure, usage,
  discount), text (category and intent words), history (category share), image
  embedding (a noisy linear view of item category and quality).
* Long tails and drift: user and item ids are Zipf-distributed over thousands
  of ids; in the eval period 15 % of impressions come from users never seen in
  training. Numericals are skewed (log-normal price, exponential tenure) with
  5 % (tenure) and 8 % (data usage) missing values.
* Time: ``ts`` (unix seconds) spans ``train_days`` then ``eval_days`` (the paper
  trains on 3 months and tests on the next week); rows are sorted by time.
* Funnel (``funnel=True``): a conversion happens only after a click, so ``cvr``'s
  sample space is the impressions whose ``ctr`` label is 1 (a feature spec says
  so with ``tasks: {cvr: {given: ctr}}``): the ``cvr`` rows of impressions
  without a click are not written (fewer rows than ``num_rows``), and ``cvr``'s
  rate given a click is its base rate over ``ctr``'s, so p(click and convert)
  keeps the base rate in expectation.
* Regression (``regression=True``): ``churn`` becomes ``spend``, a regression
  task beside the binary ones: the amount a user spends in the month after the
  impression, log-normal (heavy-tailed, never negative),
  ``log spend = b + 0.6 P + 0.3 flow_term + N(0, 0.8^2)`` with ``b`` setting the
  median near 20 (a feature spec says
  ``tasks: {spend: {type: regression, loss: log_mse, scale: zscore}}``).
  Its ``oracle_p`` is the expectation ``exp(b + 0.6 P + 0.3 flow_term + 0.32)``,
  the value no model can beat in squared error.
* ``oracle_p`` is the probability the label was drawn from (a regression row's expected value). It is never a
  feature (role ``ignore`` in the feature spec, ``not_in_environment`` in the
  schema); its AP per task is the ceiling every model is measured against.

Everything is vectorised numpy: no Python loop runs per row.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

METRICS = ("ctr", "atc", "cvr", "churn")
NAMED_FLOWS = ("new_line", "upgrade", "trade_in", "port_in", "prepaid", "family", "business", "roaming")
SURFACES = ("app", "web", "store")
# Base positive rate per metric: two dense, two sparse (SPEC section 2).
BASE_RATES = {"ctr": 0.30, "atc": 0.25, "cvr": 0.02, "churn": 0.015}
REGRESSION_METRIC = "spend"  # takes churn's place with ``regression=True``
SPEND_MEDIAN = 20.0
SPEND_NOISE = 0.8  # the standard deviation of log spend around its mean
NUM_CATEGORIES = 8  # item categories; also the number of category word lists
START_TS = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
FILLER_WORDS = tuple(f"w{i}" for i in range(150))
INTENT_WORDS = ("buy", "order", "deal", "price", "cheap", "now")
CATEGORY_WORDS = tuple(tuple(f"c{c}x{j}" for j in range(6)) for c in range(NUM_CATEGORIES))
MAX_QUERY_WORDS = 6

# Column order of the written files; matches schemas/synthetic/feature_spec.yaml.
COLUMNS = (
    "impression_id",
    "ts",
    "task",
    "flow",
    "surface",
    "user_id",
    "item_id",
    "region",
    "device",
    "price",
    "tenure_days",
    "data_gb",
    "discount",
    "query",
    "hist_items",
    "image_emb",
    "label",
    "oracle_p",
)


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Size and shape of a synthetic data set.

    Attributes:
        num_rows: task examples to write (impressions x metrics of their flow,
            cut to exactly this many).
        num_tasks: number of (metric, flow) tasks, 1..64.
        num_users: distinct users in the training period.
        num_items: distinct items.
        history_length: maximum item-history length L.
        image_dim: length of the image embedding.
        train_days: days in the training period.
        eval_days: days in the evaluation period that follows it.
        unseen_user_share: share of eval impressions from users unseen in training.
        seed: everything follows from it: same seed, same bytes.
        funnel: a conversion only after a click (``cvr`` rows only where ``ctr``'s label is 1; see above).
        regression: ``churn`` becomes ``spend``, a regression task with a known expectation (see above).
    """

    num_rows: int = 200_000
    num_tasks: int = 8
    num_users: int = 5_000
    num_items: int = 3_000
    history_length: int = 20
    image_dim: int = 16
    train_days: int = 90
    eval_days: int = 7
    unseen_user_share: float = 0.15
    seed: int = 0
    funnel: bool = False
    regression: bool = False

    def __post_init__(self):
        if self.num_rows < 1:
            raise ValueError(f"num_rows must be at least 1. Received: `num_rows={self.num_rows}`")
        if not 1 <= self.num_tasks <= 64:
            raise ValueError(f"num_tasks must be in 1..64. Received: `num_tasks={self.num_tasks}`")
        if self.image_dim < NUM_CATEGORIES + 1:
            raise ValueError(
                f"image_dim must be at least {NUM_CATEGORIES + 1} to carry category and quality. "
                f"Received: `image_dim={self.image_dim}`"
            )
        for name in ("num_users", "num_items", "history_length", "train_days", "eval_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1. Received: `{name}={getattr(self, name)}`")

    @property
    def eval_start_ts(self) -> int:
        """First timestamp of the evaluation period: rows with ``ts >= this`` are eval."""
        return START_TS + self.train_days * DAY


def flows_for(num_tasks: int) -> list[str]:
    """Flow names needed to hold ``num_tasks`` tasks at len(METRICS) metrics per flow."""
    count = math.ceil(num_tasks / len(METRICS))
    return [NAMED_FLOWS[i] if i < len(NAMED_FLOWS) else f"flow_{i}" for i in range(count)]


def task_list(num_tasks: int) -> list[tuple[str, str]]:
    """The (metric, flow) tasks, flow-major: 2 tasks -> ctr and atc of new_line."""
    return [(m, f) for f in flows_for(num_tasks) for m in METRICS][:num_tasks]


def _zipf_ids(rng: np.random.Generator, n: int, vocab: int, exponent: float = 1.0, offset: float = 10.0) -> np.ndarray:
    """Zipf-Mandelbrot ids in [0, vocab): p(k) ~ 1/(k + offset)^exponent, id 0 the most frequent.

    The offset flattens the head (no single id takes a large share of traffic)
    while keeping the long tail.
    """
    weights = 1.0 / (np.arange(vocab) + offset) ** exponent
    return rng.choice(vocab, size=n, p=weights / weights.sum())


def _standardize(x: np.ndarray) -> np.ndarray:
    return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-9)


def _join_columns(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joins the first ``lengths[i]`` strings of row i with spaces, vectorised.

    Args:
        tokens: <str>[n, m] tokens; slots past a row's length are ignored.
        lengths: <int>[n] number of tokens to keep per row.

    Returns:
        <object>[n] the joined strings ('' for length 0).
    """
    n, m = tokens.shape
    keep = np.arange(m)[None, :] < lengths[:, None]
    tokens = np.where(keep, tokens.astype(object), "")
    out = tokens[:, 0].copy()
    sep = np.array(["", " "], dtype=object)
    for j in range(1, m):  # loop over m columns, not over rows
        out = out + sep[keep[:, j].astype(int)] + tokens[:, j]
    return out


def _id_strings(prefix: str, count: int) -> np.ndarray:
    """<object>[count] the strings prefix+id, a lookup table indexed by id."""
    return np.array([f"{prefix}{i}" for i in range(count)], dtype=object)


def _solve_intercept(logits: np.ndarray, target_rate: float) -> float:
    """Bisection for b with mean(sigmoid(logits + b)) == target_rate."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        rate = np.mean(1.0 / (1.0 + np.exp(-(logits + mid))))
        lo, hi = (mid, hi) if rate < target_rate else (lo, mid)
    return (lo + hi) / 2


def flow_rate_scale(flow_index: int) -> float:
    """Each flow scales its metrics' base rates by a fixed factor in [0.8, 1.2]."""
    return 0.8 + 0.4 * ((flow_index * 0.618034) % 1.0)


def generate(config: SyntheticConfig | None = None) -> dict[str, np.ndarray]:
    """Generates the data set as columns.

    Returns:
        Column name -> array of length ``config.num_rows`` (see ``COLUMNS``),
        sorted by ``ts``. String columns are object arrays; missing numericals NaN.
    """
    config = config or SyntheticConfig()
    rng = np.random.default_rng(config.seed)
    tasks = task_list(config.num_tasks)
    flows = flows_for(config.num_tasks)
    metrics_per_flow = [[m for m, f in tasks if f == flow] for flow in flows]
    # Draw each impression's flow first, then keep just enough impressions for
    # num_rows rows (the last one may be cut), so the time span stays whole.
    counts_by_flow = np.array([len(m) for m in metrics_per_flow])
    max_impressions = config.num_rows  # every flow has at least one metric
    flow_idx = rng.integers(0, len(flows), size=max_impressions)
    n = int(np.searchsorted(np.cumsum(counts_by_flow[flow_idx]), config.num_rows)) + 1
    flow_idx = flow_idx[:n]

    # --- Entities: id latents (dimension 4 is enough to make ids matter). ---
    user_latent = rng.normal(size=(int(config.num_users * 1.5), 4))
    user_pref_cat = rng.integers(0, NUM_CATEGORIES, size=len(user_latent))
    user_focus = rng.beta(2, 2, size=len(user_latent))  # how much history follows preference
    item_latent = rng.normal(size=(config.num_items, 4))
    item_cat = rng.integers(0, NUM_CATEGORIES, size=config.num_items)
    item_quality = rng.normal(size=config.num_items)
    item_price = np.exp(rng.normal(4.0 + 0.15 * item_cat, 0.6))  # skewed, category-dependent
    image_proj = rng.normal(size=(NUM_CATEGORIES + 1, config.image_dim)) / math.sqrt(NUM_CATEGORIES + 1)

    # --- Impressions. ---
    ts = np.sort(rng.integers(START_TS, START_TS + (config.train_days + config.eval_days) * DAY, size=n))
    is_eval = ts >= config.eval_start_ts
    user = _zipf_ids(rng, n, config.num_users)
    new_user = is_eval & (rng.random(n) < config.unseen_user_share)
    user = np.where(new_user, config.num_users + rng.integers(0, len(user_latent) - config.num_users, n), user)
    item = _zipf_ids(rng, n, config.num_items, exponent=0.9)
    surface_idx = rng.choice(len(SURFACES), size=n, p=[0.6, 0.3, 0.1])
    region = rng.integers(0, 30, size=n)
    device = rng.integers(0, 5, size=n)

    cat = item_cat[item]
    quality = item_quality[item]
    price = item_price[item] * np.exp(rng.normal(0, 0.1, n))
    tenure = rng.exponential(400.0, size=n)
    data_gb = rng.gamma(2.0, 6.0, size=n) * (1 + 0.3 * (device == 4))
    discount = np.round(rng.uniform(0, 0.5, size=n) * (rng.random(n) < 0.4), 2)

    # Text: 0-2 category words (often the item's category), 0-2 intent words, fillers.
    n_cat_words = rng.integers(0, 3, size=n)
    text_cat = np.where(rng.random(n) < 0.7, cat, rng.integers(0, NUM_CATEGORIES, size=n))
    intent_strength = rng.random(n)
    n_intent = (rng.random(n) < intent_strength).astype(int) + (rng.random(n) < intent_strength**2)
    n_filler = rng.integers(1, MAX_QUERY_WORDS - 3, size=n)
    cat_words = np.array(CATEGORY_WORDS)[text_cat[:, None], rng.integers(0, 6, size=(n, 2))]
    intent_words = np.array(INTENT_WORDS)[rng.integers(0, len(INTENT_WORDS), size=(n, 2))]
    filler_words = np.array(FILLER_WORDS)[rng.integers(0, len(FILLER_WORDS), size=(n, MAX_QUERY_WORDS))]
    # Slots: [cat0, cat1, intent0, intent1, filler...] compacted by ordering keys.
    slots = np.concatenate([cat_words, intent_words, filler_words], axis=1)
    valid = np.concatenate(
        [
            np.arange(2)[None] < n_cat_words[:, None],
            np.arange(2)[None] < n_intent[:, None],
            np.arange(MAX_QUERY_WORDS)[None] < n_filler[:, None],
        ],
        axis=1,
    )
    order = np.argsort(~valid, axis=1, kind="stable")  # valid slots first, in order
    query_len = np.minimum(valid.sum(axis=1), MAX_QUERY_WORDS)
    query = _join_columns(np.take_along_axis(slots, order, axis=1), query_len)
    text_match = (n_cat_words > 0) & (text_cat == cat)

    # History: items from the user's preferred category with prob user_focus.
    hist_len = np.minimum(rng.poisson(8, size=n), config.history_length)
    from_pref = rng.random((n, config.history_length)) < user_focus[user][:, None]
    items_by_cat = [np.flatnonzero(item_cat == c) for c in range(NUM_CATEGORIES)]
    pref_pick = np.empty((n, config.history_length), dtype=np.int64)
    for c in range(NUM_CATEGORIES):  # loop over categories, vectorised within
        rows = user_pref_cat[user] == c
        pref_pick[rows] = rng.choice(items_by_cat[c], size=(rows.sum(), config.history_length))
    hist = np.where(from_pref, pref_pick, _zipf_ids(rng, n * config.history_length, config.num_items).reshape(n, -1))
    in_len = np.arange(config.history_length)[None] < hist_len[:, None]
    hist_match = np.where(hist_len > 0, ((item_cat[hist] == cat[:, None]) & in_len).sum(1) / np.maximum(hist_len, 1), 0)
    item_str = _id_strings("i", config.num_items)
    hist_items = _join_columns(item_str[hist], hist_len)

    # Image embedding: noisy linear view of (category one-hot, quality).
    item_view = np.concatenate([np.eye(NUM_CATEGORIES)[item_cat], item_quality[:, None]], axis=1) @ image_proj
    item_view += rng.normal(0, 0.3, size=item_view.shape)
    item_image = _join_columns(np.char.mod("%.4f", item_view), np.full(config.num_items, config.image_dim))

    # --- Latent factors and task logits. ---
    aff = np.sum(user_latent[user] * item_latent[item], axis=1) / 2
    surface_effect = np.array([0.3, 0.0, -0.4])[surface_idx]
    price_z = _standardize(np.log(price))
    tenure_z = _standardize(np.log1p(tenure))
    data_z = _standardize(np.log1p(data_gb))
    engagement = 0.9 * aff + 1.6 * hist_match + 0.8 * text_match + 0.3 * quality + surface_effect
    purchase = 0.5 * engagement + 0.9 * n_intent + 0.9 * quality - 0.7 * price_z + 1.5 * discount
    flow_weights = np.random.default_rng(10_000 + config.seed).normal(0, 0.6, size=(len(flows), 3))
    if len(flows) >= 2:  # the named flows' documented effects
        flow_weights[0] = [-0.5, 0.6, 0.0]  # new_line: short tenure, heavy data users
        flow_weights[1] = [0.8, 0.0, 0.3]  # upgrade: long tenure, newer devices
    flow_term = np.sum(flow_weights[flow_idx] * np.stack([tenure_z, data_z, (device - 2) / 2], 1), axis=1)
    factor = {
        "ctr": engagement + 0.5 * flow_term,
        "atc": 0.7 * engagement + 0.5 * purchase + flow_term,
        "cvr": purchase + flow_term,
        "churn": -0.9 * engagement + 0.7 * price_z - 0.6 * tenure_z + 0.5 * flow_term,
    }

    # --- Explode impressions into task rows (metric-major within impression). ---
    metric_count = np.array([len(m) for m in metrics_per_flow])[flow_idx]
    imp = np.repeat(np.arange(n), metric_count)
    slot = np.arange(len(imp)) - np.repeat(np.cumsum(metric_count) - metric_count, metric_count)
    row_flow = flow_idx[imp]
    metric_of = np.array([[METRICS.index(m) for m in ms] + [0] * (len(METRICS) - len(ms)) for ms in metrics_per_flow])
    row_metric = metric_of[row_flow, slot]
    imp, row_flow, row_metric = imp[: config.num_rows], row_flow[: config.num_rows], row_metric[: config.num_rows]

    logit = np.zeros(len(imp))
    for mi, metric in enumerate(METRICS):  # loop over metrics and flows, not rows
        for fi in range(len(flows)):
            rows = (row_metric == mi) & (row_flow == fi)
            if rows.any():
                z = factor[metric][imp[rows]]
                target = BASE_RATES[metric] * flow_rate_scale(fi)
                logit[rows] = z + _solve_intercept(z, target)
    oracle_p = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.random(len(imp)) < oracle_p).astype(np.int64)
    if config.regression:
        label, oracle_p = _spend(imp, row_metric, purchase, flow_term, label, oracle_p, rng)
    if config.funnel:
        keep = _funnel(imp, row_metric, row_flow, label, logit, factor, rng)
        imp, row_flow, row_metric, logit, label = imp[keep], row_flow[keep], row_metric[keep], logit[keep], label[keep]
        cvr = row_metric == METRICS.index("cvr")
        oracle_p = oracle_p[keep]
        oracle_p[cvr] = 1.0 / (1.0 + np.exp(-logit[cvr]))

    tenure_out = np.where(rng.random(n) < 0.05, np.nan, np.round(tenure, 1))
    data_out = np.where(rng.random(n) < 0.08, np.nan, np.round(data_gb, 2))
    return {
        "impression_id": imp.astype(np.int64),
        "ts": ts[imp].astype(np.int64),
        "task": np.array(metric_names(config), dtype=object)[row_metric],
        "flow": np.array(flows, dtype=object)[row_flow],
        "surface": np.array(SURFACES, dtype=object)[surface_idx[imp]],
        "user_id": _id_strings("u", len(user_latent))[user[imp]],
        "item_id": item_str[item[imp]],
        "region": _id_strings("r", 30)[region[imp]],
        "device": device[imp].astype(np.int64),
        "price": np.round(price[imp], 2),
        "tenure_days": tenure_out[imp],
        "data_gb": data_out[imp],
        "discount": discount[imp],
        "query": query[imp],
        "hist_items": hist_items[imp],
        "image_emb": item_image[item[imp]],
        "label": label,
        "oracle_p": np.round(oracle_p, 6),
    }


def metric_names(config: SyntheticConfig) -> tuple[str, ...]:
    """The ``task`` column's values: ``METRICS``, with ``spend`` in churn's place for ``regression``."""
    return tuple(REGRESSION_METRIC if config.regression and m == "churn" else m for m in METRICS)


def _spend(imp, row_metric, purchase, flow_term, label, oracle_p, rng):
    """For ``regression``: (label, oracle_p) with churn's rows replaced by log-normal spend and its expectation."""
    rows = row_metric == METRICS.index("churn")
    mean_log = 0.6 * _standardize(purchase)[imp[rows]] + 0.3 * flow_term[imp[rows]]
    mean_log += math.log(SPEND_MEDIAN) - float(np.median(mean_log))
    label, oracle_p = label.astype(np.float64), oracle_p.copy()
    label[rows] = np.round(np.exp(mean_log + rng.normal(0, SPEND_NOISE, int(rows.sum()))), 2)
    oracle_p[rows] = np.exp(mean_log + SPEND_NOISE**2 / 2)
    return label, oracle_p


def _funnel(imp, row_metric, row_flow, label, logit, factor, rng) -> np.ndarray:
    """For ``funnel``: the rows to keep (no ``cvr`` row of an impression without a click); rewrites the kept
    ``cvr`` rows' ``logit`` and ``label`` (in place) as p(convert | click), its rate ``cvr``'s over ``ctr``'s."""
    ctr, cvr = METRICS.index("ctr"), METRICS.index("cvr")
    clicked = np.zeros(imp.max() + 1 if len(imp) else 0, dtype=bool)
    clicked[imp[(row_metric == ctr) & (label == 1)]] = True
    keep = (row_metric != cvr) | clicked[imp]
    for fi in np.unique(row_flow):  # loop over flows, not rows
        rows = (row_metric == cvr) & (row_flow == fi) & keep
        if rows.any():
            z = factor["cvr"][imp[rows]]
            scale = flow_rate_scale(int(fi))
            target = BASE_RATES["cvr"] * scale / (BASE_RATES["ctr"] * scale)
            logit[rows] = z + _solve_intercept(z, target)
            label[rows] = rng.random(int(rows.sum())) < 1.0 / (1.0 + np.exp(-logit[rows]))
    return keep


def task_names(columns: dict[str, np.ndarray]) -> np.ndarray:
    """<object>[rows] the task key 'metric/flow' of each row."""
    return columns["task"].astype(object) + "/" + columns["flow"].astype(object)
