"""Row-level validation of ExampleGen's readers: clean rows as TFX makes them, bad rows named, none lost."""

import csv
import os
import shutil

import pytest
import tensorflow as tf
from apache_beam import pvalue
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx_bsl.coders import csv_decoder

import schemas
from components.example_gen.quarantine import ReadCsv, ReadTfRecord
from components.feature_spec import load_feature_spec
from components.row_check import RowParser, limit, read_rows
from pipelines.preflight import DataRootError, check_csv_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = schemas.path("synthetic", "sample.csv")
SPEC = load_feature_spec(schemas.path("synthetic", "feature_spec.yaml"))
COLUMNS = {c.name: c for c in SPEC.columns}


def _header():
    with open(SAMPLE) as f:
        return next(csv.reader(f))


def _run(reader, path):
    """(good records, bad rows, counts) of a reader DoFn on one file."""
    if hasattr(reader, "setup"):
        reader.setup()
    good, bad, counts = [], [], None
    for item in reader.process(path):
        if isinstance(item, pvalue.TaggedOutput):
            if item.tag == "bad":
                bad.append(item.value)
            else:
                counts = item.value
        else:
            good.append(item)
    return good, bad, counts


def test_clean_rows_become_the_examples_tfx_makes():
    header = _header()
    good, bad, counts = _run(ReadCsv(header, COLUMNS), SAMPLE)
    # TFX's own path: its line reader, its CSV parser and its tf.Example builder, with the spec's types.
    infos = [
        csv_decoder.ColumnInfo(
            name,
            {
                "string": csv_decoder.ColumnType.STRING,
                "int": csv_decoder.ColumnType.INT,
                "float": csv_decoder.ColumnType.FLOAT,
            }[COLUMNS[name].dtype],
        )
        for name in header
    ]
    parse, build = csv_decoder.ParseCSVLine(delimiter=","), csv_executor._ParsedCsvToTfExample()
    parse.setup()
    expected = [
        example.SerializeToString(deterministic=True)
        for record in csv_executor._ReadCsvRecordsFromTextFile().process(SAMPLE)
        for cells, _ in parse.process(record)
        for example in build.process(cells, infos)
    ]
    assert len(expected) == 300 and bad == [] and counts == (300, 0)
    assert [g.SerializeToString(deterministic=True) for g in good] == expected  # the hash split key: same split


def _write_with(tmp_path, edits: dict[int, str], extra: list[str] = ()) -> str:
    """The sample with line ``n`` (1-based, header = 1) replaced by ``edits[n]`` and ``extra`` lines appended."""
    with open(SAMPLE) as f:
        lines = f.read().splitlines()
    for number, text in edits.items():
        lines[number - 1] = text
    path = str(tmp_path / "data.csv")
    with open(path, "w") as f:
        f.write("\n".join(lines + list(extra)) + "\n")
    return path


def _with_value(column: str, value: str, line: int = 2) -> str:
    with open(SAMPLE) as f:
        rows = list(csv.reader(f))
    row = rows[line - 1]
    row[rows[0].index(column)] = value
    return ",".join(f'"{v}"' if v and not v.replace(".", "").replace("-", "").isdigit() else v for v in row)


def test_bad_rows_anywhere_are_listed_with_line_column_and_reason_and_the_rest_goes_on(tmp_path):
    header = _header()
    edits = {
        2: _with_value("label", "2", 2),  # first row
        50: "1,2,3,this row is broken",  # 4 fields
        51: _with_value("price", "abc", 51),
        52: '7,1767253292,"ctr","new_line,"app"',  # a quote that never closes: costs this line only
        120: _with_value("task", "", 120),  # a required value missing
        121: _with_value("image_emb", "0.1 0.2 0.3", 121),  # 3 of 16 numbers
        122: _with_value("price", "nan", 122),
        301: _with_value("device", "2.5", 301),  # last row
    }
    # A quoted field may legitimately span lines: this record is good and keeps its newline.
    multi = _with_value("query", "two\nlines", 3)
    path = _write_with(tmp_path, {**edits, 3: multi})
    good, bad, counts = _run(ReadCsv(header, COLUMNS), path)
    by_line = {line: (column, reason) for _, line, column, reason, _ in bad}
    assert sorted(by_line) == [2, 51, 52, 53, 121, 122, 123, 302]  # the multi-line record shifts later lines by one
    assert by_line[2] == ("label", "'2' is not a label; labels are 0 or 1")
    assert by_line[51] == ("", "expected 18 fields, found 4")
    assert by_line[52][0] == "price" and "'abc' is not a number" in by_line[52][1]
    assert by_line[53][0] == "" and "runs on over" in by_line[53][1]
    assert by_line[121] == ("task", "is empty, and a 'task' column needs a value in every row")
    assert by_line[122] == ("image_emb", "expected 16 space-separated numbers (its `dim`), found 3 values")
    assert by_line[123][0] == "price" and "marks a missing value" in by_line[123][1]
    assert by_line[302] == ("device", "values like '2.5' are decimals; declare `dtype: float`")
    assert counts == (300, 8) and len(good) == 292  # every row is either fed on or listed
    assert any(g.features.feature["query"].bytes_list.value == [b"two\nlines"] for g in good)
    assert all(text for *_, text in bad)  # the row itself is kept, to fix and feed again


def test_stray_quote_at_the_end_and_non_utf8_lines(tmp_path):
    path = _write_with(tmp_path, {}, extra=['9,1767253292,"ctr'])
    with open(path, "ab") as f:
        f.write(b"\xff\xfe,broken\n")
    with open(path, "rb") as f:
        rows = list(read_rows(f, RowParser(_header(), COLUMNS)))
    bad = [(line, reason) for line, _, values, _, reason in rows if values is None]
    assert [line for line, _ in bad] == [302, 303]
    assert "never closed" in bad[0][1] and "not UTF-8" in bad[1][1]
    assert sum(values is not None for _, _, values, _, _ in rows) == 300


def _tfrecord(tmp_path, n=5) -> tuple[str, list[int]]:
    """n records; returns the path and each record's byte offset."""
    path, offsets, offset = str(tmp_path / "data.tfrecord"), [], 0
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(n):
            example = tf.train.Example()
            example.features.feature["label"].int64_list.value.append(i % 2)
            data = example.SerializeToString(deterministic=True)
            writer.write(data)
            offsets.append(offset)
            offset += 16 + len(data)
    return path, offsets


def test_corrupt_and_truncated_tfrecords_are_reported_by_record_and_the_rest_read(tmp_path):
    path, offsets = _tfrecord(tmp_path)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[offsets[1] + 14] ^= 0xFF  # a byte of record 2's payload: its data CRC fails
    with open(path, "wb") as f:
        f.write(bytes(data[: offsets[4] + 20]))  # record 5 cut short
    good, bad, counts = _run(ReadTfRecord(), path)
    assert [b[1] for b in bad] == [2, 5]  # record numbers, 1-based
    assert "CRC mismatch" in bad[0][3] and "truncated" in bad[1][3]
    assert counts == (5, 2) and len(good) == 3
    assert [tf.train.Example.FromString(g).features.feature["label"].int64_list.value[0] for g in good] == [0, 0, 1]


def test_a_corrupt_length_ends_the_file_with_one_report(tmp_path):
    path, offsets = _tfrecord(tmp_path)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[offsets[2]] ^= 0x01  # record 3's length: nothing after it can be framed
    with open(path, "wb") as f:
        f.write(bytes(data))
    good, bad, counts = _run(ReadTfRecord(), path)
    assert len(good) == 2 and [b[1] for b in bad] == [3] and "corrupt record length" in bad[0][3]
    assert counts == (3, 1)


def test_threshold_is_a_count_a_fraction_or_strict():
    assert limit(0, 10_000) == 0 and limit(25, 10_000) == 25 and limit(0.001, 10_000) == 10
    assert limit(0.001, 816) == 1  # rounded up: one bad row does not stop a small split
    with pytest.raises(ValueError, match="max_bad_rows must be >= 0"):
        limit(-1, 10)


def test_preflight_lists_a_few_bad_rows_and_stops_when_the_sample_alone_is_over(tmp_path):
    path = _write_with(tmp_path, {2: _with_value("label", "2", 2)})
    header, rows, bad = check_csv_file(path, SPEC)
    assert rows == 300 and bad == [f"{path}:2: column 'label': '2' is not a label; labels are 0 or 1"]
    with pytest.raises(DataRootError, match=r"1 of the first 300 rows do not fit .*\n  .*:2: column 'label'"):
        check_csv_file(path, SPEC, max_bad_rows=0)
    # A spec that disagrees with the data makes every row bad: caught in the sample, whatever the fraction.
    every = {n: _with_value("device", "2.5", n) for n in range(2, 302)}
    with pytest.raises(DataRootError, match="300 of the first 300 rows"):
        check_csv_file(_write_with(tmp_path, every), SPEC)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_example_gen_driver_prepares_the_bad_rows_output_for_legacy_launchers(tmp_path):
    """Airflow's launcher hands the executor only what the driver prepared: TFX's ExampleGen driver prepares
    ``examples`` alone (KeyError 'bad_rows' in Do); ours prepares every declared output, each its own folder."""
    from tfx.components.example_gen import driver as tfx_driver
    from tfx.components.example_gen import utils
    from tfx.orchestration import data_types
    from tfx.types import channel, standard_artifacts

    from components.example_gen.component import SpecCsvExampleGen, _CheckedDriver
    from components.example_gen.quarantine import BAD_ROWS_KEY, BadRows

    assert SpecCsvExampleGen.DRIVER_CLASS is _CheckedDriver
    outputs = {
        "examples": channel.Channel(type=standard_artifacts.Examples),
        BAD_ROWS_KEY: channel.Channel(type=BadRows),
    }
    pipeline = data_types.PipelineInfo(pipeline_name="p", pipeline_root=str(tmp_path), run_id="r1")
    component = data_types.ComponentInfo(component_type="x", component_id="CsvExampleGen", pipeline_info=pipeline)
    properties = {utils.SPAN_PROPERTY_NAME: 0, utils.VERSION_PROPERTY_NAME: None, utils.FINGERPRINT_PROPERTY_NAME: "f"}
    args = ({}, outputs, properties, 7, pipeline, component)
    assert set(tfx_driver.FileBasedDriver(None)._prepare_output_artifacts(*args)) == {"examples"}  # TFX's: one
    prepared = _CheckedDriver(None)._prepare_output_artifacts(*args)
    assert set(prepared) == {"examples", BAD_ROWS_KEY}
    (examples,), (bad_rows,) = prepared["examples"], prepared[BAD_ROWS_KEY]
    assert isinstance(bad_rows, BadRows) and bad_rows.uri == str(tmp_path / "CsvExampleGen" / BAD_ROWS_KEY / "7")
    assert examples.uri == str(tmp_path / "CsvExampleGen" / "examples" / "7") and examples.span == 0


def test_with_regression_tasks_a_label_is_a_number_and_a_binary_tasks_label_still_0_or_1():
    from components.feature_spec import parse_feature_spec
    from components.row_check import BadRow

    spec = parse_feature_spec(
        {
            "columns": {
                "task": {"role": "task"},
                "x": {"role": "numerical"},
                "label": {"role": "label", "dtype": "float"},
            },
            "tasks": {
                "click": {},
                "spend": {"type": "regression", "loss": "log_mse"},
                "margin": {"type": "regression"},
            },
        }
    )
    parser = RowParser(
        ["task", "x", "label"], {c.name: c for c in spec.columns}, spec.regression_tasks, spec.nonnegative_tasks
    )
    assert parser.parse(["spend", "1.5", "23.75"]) == ["spend", 1.5, 23.75]
    assert parser.parse(["margin", "1.5", "-4"]) == ["margin", 1.5, -4.0]  # mse: any sign
    assert parser.parse(["click", "1.5", "1.0"]) == ["click", 1.5, 1.0]
    for cells, field, reason in (
        (["click", "1", "0.5"], "label", "'0.5' is not a label of binary task 'click' (0 or 1)"),
        (["spend", "1", "-2"], "label", "'-2' is negative; task 'spend' has `loss: log_mse`"),
        (["spend", "1", "nan"], "label", "'nan'"),
        (["spend", "1", "lots"], "label", "'lots'"),
    ):
        with pytest.raises(BadRow) as err:
            parser.parse(cells)
        assert err.value.column == field and reason in str(err.value), (cells, str(err.value))
