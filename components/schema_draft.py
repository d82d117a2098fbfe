"""Drafts a TFMD raw-data schema from a feature spec.

A user who writes only a feature spec gets a schema for ImportSchemaGen and
ExampleValidator from this; the data sets shipped here keep a curated copy
(``schemas/<dataset>/schema.pbtxt``, drafted by this module, then given
domains by hand). ``python -m components.schema_draft SPEC > schema.pbtxt``.
"""

from __future__ import annotations

import sys

from components.feature_spec import (
    NOT_FEATURE_ROLES,
    NULLABLE_ROLES,
    ROLE_TABLE,
    SCHEMA_TYPES,
    FeatureSpec,
    load_feature_spec,
)


def draft_schema(spec: FeatureSpec):
    """Returns a ``schema_pb2.Schema`` with one feature per spec column.

    Required single-valued columns get ``shape {dim {size: 1}}`` (dense in
    Transform); nullable ones get ``value_count {min: 0 max: 1}``. Label and
    ignored columns (the oracle among them) are left out of the SERVING
    environment, and every ignored column is annotated ``not_a_feature``.
    """
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for column in spec.columns:
        feature = schema.feature.add()
        feature.name = column.name
        feature.type = schema_pb2.FeatureType.Value(SCHEMA_TYPES[column.dtype])
        if column.role in NULLABLE_ROLES:
            feature.value_count.min = 0
            feature.value_count.max = 1
        else:
            feature.presence.min_fraction = 1.0
            feature.shape.dim.add().size = 1
        if ROLE_TABLE[column.role].binary and column.dtype == "int":  # a float label holds regression values too
            feature.int_domain.min = 0
            feature.int_domain.max = 1
        if column.role in NOT_FEATURE_ROLES:  # the serving request does not carry them
            feature.not_in_environment.append("SERVING")
        if column.role == "ignore":
            feature.annotation.tag.append("not_a_feature")
    return schema


def main(argv: list[str]) -> int:
    from google.protobuf import text_format

    if len(argv) != 1:
        print("usage: python -m components.schema_draft FEATURE_SPEC", file=sys.stderr)
        return 2
    print(text_format.MessageToString(draft_schema(load_feature_spec(argv[0]))), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
