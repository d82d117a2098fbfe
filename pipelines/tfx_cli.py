"""The TFX CLI's pipeline file: run as a script, it runs the local pipeline (``pipelines/config.py``).

    tfx pipeline create --engine=local --pipeline_path=$PWD/pipelines/tfx_cli.py
    tfx run create --engine=local --pipeline_name=grec

``GREC_HOME``, ``GREC_SPEC`` and ``GREC_DATA_ROOT`` choose artifacts, spec and
data as ``--data-root`` / ``--spec`` do for ``python -m pipelines.local_runner``;
``GREC_TRAIN_STEPS`` the Trainer's step budget as ``--train-steps`` does.
"""

if __name__ == "__main__":
    from pipelines import config, local_runner

    local_runner.run(train_steps=config.env_train_steps())
