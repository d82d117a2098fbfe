"""GRec, the Generalist Recommender: the ``grec`` command (``grec.cli``) over the project's packages.

components/  TFX components and the code Transform, Trainer and Evaluator run
models/      the Keras 3 models (GRec and its baselines) and their registry
pipelines/   the TFX pipeline and its runners (local, TFX CLI, Airflow, Kubeflow)
serving/     the model server (TF Serving's gRPC and REST APIs) and its client
data_tools/  the synthetic generator, the wide-to-tasks converter, the spec drafter
benchmarks/  quality against baselines, cost against a floor
schemas/     the feature specs and schemas shipped as package data
"""

__version__ = "0.1.0"
