"""Runs ``preprocessing_fn`` under Beam on a CSV file, outside a pipeline (tests, debugging).

    python -m components.transform_check --csv schemas/synthetic/sample.csv \
        --spec schemas/synthetic/feature_spec.yaml --schema schemas/synthetic/schema.pbtxt --out /tmp/tft

Writes the transform graph to ``--out`` (and with ``--transformed-out DIR`` the
transformed rows) and prints the transformed schema.
"""

from __future__ import annotations

import argparse
import os
import sys

from components.feature_spec import load_feature_spec


def run_transform(
    csv_path: str,
    spec_path: str,
    schema_path: str,
    out_dir: str,
    beam_args: list[str] | None = None,
    transformed_dir: str | None = None,
):
    """Analyzes ``csv_path`` and returns the ``TFTransformOutput``; with ``transformed_dir``, also writes the
    transformed rows there as uncompressed TFRecord files of tf.Examples (what the Trainer reads)."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx_bsl.public import tfxio

    from components.preprocessing import preprocessing_fn

    with open(schema_path) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    config = {"feature_spec": load_feature_spec(spec_path).to_dict(), "feature_spec_path": spec_path}
    with open(csv_path) as f:
        header = f.readline().strip().split(",")
    source = tfxio.CsvTFXIO(csv_path, column_names=header, schema=schema, skip_header_lines=1)
    with beam.Pipeline(options=PipelineOptions(beam_args or [])) as pipeline:
        with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp")):
            raw = pipeline | source.BeamSource()
            transform_fn = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(
                lambda inputs: preprocessing_fn(inputs, config)
            )
            _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
            if transformed_dir:
                rows, metadata = ((raw, source.TensorAdapterConfig()), transform_fn) | tft_beam.TransformDataset(
                    output_record_batches=False
                )
                _ = (
                    rows
                    | beam.Map(tft.coders.ExampleProtoCoder(metadata.dataset_metadata.schema).encode)
                    | beam.io.WriteToTFRecord(os.path.join(transformed_dir, "part"), file_name_suffix=".tfrecord")
                )
    # The raw schema beside it, as TFX's Transform writes it (serving needs raw_feature_spec()).
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema), os.path.join(out_dir, tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    return tft.TFTransformOutput(out_dir)


def main(argv=None) -> int:
    from google.protobuf import text_format

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--transformed-out", help="also write the transformed rows (TFRecord of tf.Examples) here")
    args = parser.parse_args(argv)
    output = run_transform(args.csv, args.spec, args.schema, args.out, transformed_dir=args.transformed_out)
    print(text_format.MessageToString(output.transformed_metadata.schema), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
