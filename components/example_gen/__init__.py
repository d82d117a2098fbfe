"""The pipeline's ExampleGen, as one package: a reader composed with a splitter and the quarantine.

    readers.py     CSV read with the feature spec's types; TFRecord of tf.Example (READERS)
    splits.py      the time split of one input; the validation split carved from train
    quarantine.py  bad rows and corrupt records to the ``bad_rows`` output, counted, never fatal
    executors.py   the executors: reader x splitter (folders or time), quarantine, validation
    config.py      the custom_config the executors read
    component.py   the TFX components (SpecCsvExampleGen, CheckedImportExampleGen, TimeSplit*ExampleGen)

Nothing is imported here: the runners read ``splits``' constants before TensorFlow loads.
"""
