"""A Pusher that does not push the same model twice, and never shows a server half a version.

TFX's Pusher copies a blessed model to a new ``<base>/<unix time>/`` version
each time it runs. When a re-run reuses the cached Trainer output, the
Evaluator compares it with itself (the latest blessed model), blesses it
again, and the stock Pusher would publish an identical new version that
TF Serving then loads for nothing. This executor records the source model's
URI in ``<version>/assets.extra/grec_source_model.txt`` (a folder TF Serving
ignores) and skips a push whose source is already served.

TFX's Pusher copies into ``<base>/<version>/`` file by file (``saved_model.pb``
last), so a server polling the base path can find a version half-copied. This
executor pushes into a hidden staging folder beside the versions (servers read
only numeric folder names) and renames the finished version into place.
"""

from __future__ import annotations

import os
import uuid

from tfx import v1 as tfx
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import proto_utils

MARKER = os.path.join("assets.extra", "grec_source_model.txt")


def _served_version_of(base_directory: str, model_uri: str) -> str | None:
    if not os.path.isdir(base_directory):
        return None
    for version in sorted(os.listdir(base_directory)):
        marker = os.path.join(base_directory, version, MARKER)
        if os.path.exists(marker):
            with open(marker) as f:
                if f.read().strip() == model_uri:
                    return version
    return None


class IdempotentPusherExecutor(pusher_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        model = artifact_utils.get_single_instance(input_dict["model"])
        pushed = artifact_utils.get_single_instance(output_dict["pushed_model"])
        destination = tfx.proto.PushDestination()
        proto_utils.json_to_proto(exec_properties["push_destination"], destination)
        base = destination.filesystem.base_directory
        version = _served_version_of(base, model.uri) if self.CheckBlessing(input_dict) else None
        if version is not None:
            # Already served: record where, push nothing new.
            self._MarkPushed(pushed, os.path.join(base, version), version)
            return
        staging = os.path.join(base, f".staging-{uuid.uuid4().hex}")
        destination.filesystem.base_directory = staging
        super().Do(
            input_dict, output_dict, {**exec_properties, "push_destination": proto_utils.proto_to_json(destination)}
        )
        if pushed.get_int_custom_property("pushed") != 1:
            return
        staged = pushed.get_string_custom_property("pushed_destination")
        fileio.makedirs(os.path.join(staged, "assets.extra"))
        with fileio.open(os.path.join(staged, MARKER), "w") as f:
            f.write(model.uri)
        version = int(pushed.get_string_custom_property("pushed_version"))
        while fileio.exists(os.path.join(base, str(version))):  # a version pushed in the same second
            version += 1
        target = os.path.join(base, str(version))
        fileio.rename(staged, target)  # complete at once: what a server sees is a whole version or none
        fileio.rmtree(staging)
        self._MarkPushed(pushed, target, str(version))


def idempotent_pusher(**kwargs) -> tfx.components.Pusher:
    """``tfx.components.Pusher`` with the executor above."""
    return tfx.components.Pusher(
        custom_executor_spec=executor_spec.ExecutorClassSpec(IdempotentPusherExecutor), **kwargs
    )
