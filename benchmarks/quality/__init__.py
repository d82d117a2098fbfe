"""The quality benchmark as a package; ``python -m benchmarks.real_data`` (``grec bench real_data``) runs it.

datasets.py  the data-set registry: source, split, features through the pipeline's preprocessing
learners.py  deep models and per-task LightGBM behind one interface (tune, fit and score)
protocol.py  the protocol: same budget, same rows, seeds, comparisons with GRec
compare.py   paired comparisons over the metric registry, verdicts, the summary
report.py    the markdown report
"""
