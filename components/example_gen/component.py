"""ExampleGen executors: CSV read with the feature spec's types, bad rows quarantined, and a time split.

CsvExampleGen infers each column's type from the data, so a numerical column
whose values happen to be whole numbers becomes INT and fails the curated
schema's FLOAT at ExampleValidator, minutes later. ``SpecCsvExampleGen`` reads
every column with the type the feature spec declares (``73`` in a float column
is 73.0), so the schema always agrees with the examples. A row that does not
fit the spec (and, for TFRecord input, a corrupt record) goes to the
component's ``bad_rows`` output with its file, line and reason instead of
ending the run; above ``max_bad_rows`` the run stops (``components/example_gen/quarantine.py``).

TFX's ExampleGen splits a single input by hashing (``output_config``); a
recommender must be evaluated on the period after the one it trained on, so
these executors read every input file and put each row in ``eval`` when its
time column is at or after the cutoff, else in ``train``. The cutoff is either
``eval_start`` (unix seconds) or ``eval_days`` before the latest timestamp in
the data. ``pipelines/grec_pipeline.py`` uses them when ``time_split`` is given:

    TimeSplitCsvExampleGen(input_base=data_root, time_column="ts", eval_days=7)
"""

from __future__ import annotations

from tfx.components.example_gen import driver, utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, base_driver, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

from components.example_gen.config import example_gen_config, split_output_config, time_split_config
from components.example_gen.executors import (
    CheckedImportExecutor,
    SpecCsvExecutor,
    TimeSplitCsvExecutor,
    TimeSplitImportExecutor,
)
from components.example_gen.quarantine import (
    BAD_ROWS_KEY,
    BadRows,
)


class _ExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    OUTPUTS = {**standard_component_specs.FileBasedExampleGenSpec.OUTPUTS, BAD_ROWS_KEY: ChannelParameter(type=BadRows)}


class _CheckedDriver(driver.FileBasedDriver):
    """FileBasedExampleGen's driver (spans, fingerprints) that also prepares the ``bad_rows`` output.

    TFX's driver returns only ``examples`` from ``_prepare_output_artifacts``, which the legacy
    launchers (Airflow's) use as the executor's ``output_dict``: without this, ``Do`` got no
    ``bad_rows`` there. The IR launchers (LocalDagRunner, Kubeflow V2) make every declared output
    themselves and take only ``examples`` from the driver.
    """

    def _prepare_output_artifacts(
        self, input_artifacts, output_dict, exec_properties, execution_id, pipeline_info, component_info
    ):
        result = super()._prepare_output_artifacts(
            input_artifacts, output_dict, exec_properties, execution_id, pipeline_info, component_info
        )
        others = {name: channel for name, channel in output_dict.items() if name not in result}
        result.update(
            base_driver.BaseDriver._prepare_output_artifacts(
                self, input_artifacts, others, exec_properties, execution_id, pipeline_info, component_info
            )
        )
        return result


class _CheckedExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen (its driver, spans and caching) with a second output, ``bad_rows``."""

    SPEC_CLASS = _ExampleGenSpec
    DRIVER_CLASS = _CheckedDriver

    def __init__(self, input_base: str, custom_config, input_config=None, output_config=None, range_config=None):
        # FileBasedExampleGen.__init__ builds its own spec with one output; this is the same with two.
        input_config = input_config or utils.make_default_input_config()
        spec = _ExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config or utils.make_default_output_config(input_config),
            custom_config=custom_config,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=channel.Channel(type=standard_artifacts.Examples),
            bad_rows=channel.Channel(type=BadRows),
        )
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


class SpecCsvExampleGen(_CheckedExampleGen):
    """CsvExampleGen whose columns have the feature spec's types (``spec``: ``FeatureSpec.to_dict()``);
    ``max_bad_rows`` and ``validation_fraction`` as in ``example_gen_config``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(SpecCsvExecutor)

    def __init__(self, input_base: str, spec: dict, input_config=None, output_config=None, range_config=None, **checks):
        super().__init__(input_base, example_gen_config(spec, **checks), input_config, output_config, range_config)


class CheckedImportExampleGen(_CheckedExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with corrupt records quarantined; ``spec`` (optional) and
    the checks as in ``example_gen_config``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(CheckedImportExecutor)

    def __init__(
        self,
        input_base: str,
        spec: dict | None = None,
        input_config=None,
        output_config=None,
        range_config=None,
        **checks,
    ):
        super().__init__(input_base, example_gen_config(spec, **checks), input_config, output_config, range_config)


class _TimeSplitExampleGen(_CheckedExampleGen):
    def __init__(
        self,
        input_base: str,
        time_column: str,
        eval_days: float | None = None,
        eval_start: int | None = None,
        pattern: str = "*",
        spec: dict | None = None,
        range_config=None,
        **checks,
    ):
        """Reads every file ``pattern`` matches in ``input_base``; ``eval`` holds the rows at or after the cutoff."""
        super().__init__(
            input_base,
            time_split_config(time_column, eval_days, eval_start, spec, **checks),
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)]),
            split_output_config(),
            range_config,
        )


class TimeSplitCsvExampleGen(_TimeSplitExampleGen):
    """CsvExampleGen with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitCsvExecutor)


class TimeSplitImportExampleGen(_TimeSplitExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitImportExecutor)
