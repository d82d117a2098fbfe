"""A Pusher that does not push the same model twice.

TFX's Pusher copies a blessed model to a new ``<base>/<unix time>/`` version
each time it runs. When a re-run reuses the cached Trainer output, the
Evaluator compares it with itself (the latest blessed model), blesses it
again, and the stock Pusher would publish an identical new version that
TF Serving then loads for nothing. This executor records the source model's
URI in ``<version>/assets.extra/grec_source_model.txt`` (a folder TF Serving
ignores) and skips a push whose source is already served.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils

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
        from tfx.utils import proto_utils

        proto_utils.json_to_proto(exec_properties["push_destination"], destination)
        base = destination.filesystem.base_directory
        version = _served_version_of(base, model.uri) if self.CheckBlessing(input_dict) else None
        if version is not None:
            # Already served: record where, push nothing new.
            self._MarkPushed(pushed, os.path.join(base, version), version)
            return
        super().Do(input_dict, output_dict, exec_properties)
        if pushed.get_int_custom_property("pushed") == 1:
            target = pushed.get_string_custom_property("pushed_destination")
            os.makedirs(os.path.join(target, "assets.extra"), exist_ok=True)
            with open(os.path.join(target, MARKER), "w") as f:
                f.write(model.uri)


def idempotent_pusher(**kwargs) -> tfx.components.Pusher:
    """``tfx.components.Pusher`` with the executor above."""
    return tfx.components.Pusher(
        custom_executor_spec=executor_spec.ExecutorClassSpec(IdempotentPusherExecutor), **kwargs
    )
