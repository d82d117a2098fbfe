"""The TFX CLI's pipeline file: run as a script, it runs the local pipeline (``pipelines/config.py``).

    tfx pipeline create --engine=local --pipeline_path=$PWD/pipelines/tfx_cli.py
    tfx run create --engine=local --pipeline_name=grec

``GREC_HOME``, ``GREC_SPEC`` and ``GREC_DATA_ROOT`` choose artifacts, spec and
data as ``--data-root`` / ``--spec`` do for ``grec run``; ``GREC_MODEL``,
``GREC_PRESET``, ``GREC_HYPERPARAMETERS`` and ``GREC_TRAIN_STEPS`` the model and
its training as ``--model``, ``--preset``, ``--hyperparameters`` and
``--train-steps`` do (``pipelines.config.options_from_env``).
"""

if __name__ == "__main__":
    from pipelines import config, local_runner

    local_runner.run(**config.options_from_env())
