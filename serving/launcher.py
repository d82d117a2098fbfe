"""Starts a model server for a model base path: the official binary when present, else the project's.

``tensorflow_model_server`` is used when it is on the PATH or named by
``GREC_MODEL_SERVER``; otherwise ``python -m serving.model_server`` with the
same flags.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc
import portpicker


def official_binary() -> str | None:
    return os.environ.get("GREC_MODEL_SERVER") or shutil.which("tensorflow_model_server")


class ServerProcess:
    """A model server in a child process; a context manager that stops it with SIGTERM. ``credentials``
    (``grpc.ssl_channel_credentials``): the server speaks TLS (``--ssl_config_file`` in ``extra_args``)."""

    def __init__(
        self, model_base_path: str, model_name: str = "grec", poll_seconds: float = 1.0, extra_args=(), credentials=None
    ):
        self.credentials = credentials
        self.port = portpicker.pick_unused_port()
        self.target = f"127.0.0.1:{self.port}"
        binary = official_binary()
        flags = [
            f"--port={self.port}",
            f"--model_name={model_name}",
            f"--model_base_path={os.path.abspath(model_base_path)}",
            f"--file_system_poll_wait_seconds={int(max(1, poll_seconds))}",
            *extra_args,
        ]
        if binary:
            self.kind, command = "tensorflow_model_server", [binary, *flags]
        else:
            self.kind, command = "serving.model_server", [sys.executable, "-m", "serving.model_server", *flags]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        # The server's log goes to a file: a pipe nobody reads fills up and blocks the server's next log line.
        self.log_path = tempfile.NamedTemporaryFile(prefix="model_server-", suffix=".log", delete=False).name
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        """The server's log so far."""
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n{self.output()}")
            try:
                channel = (
                    grpc.insecure_channel(self.target)
                    if self.credentials is None
                    else grpc.secure_channel(self.target, self.credentials)
                )
                with channel:
                    grpc.channel_ready_future(channel).result(timeout=1)
                return
            except grpc.FutureTimeoutError:
                continue
        raise TimeoutError(f"{self.kind} not ready on {self.target} after {timeout} s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait()
        if os.path.exists(self.log_path):
            os.remove(self.log_path)
        return code

    def __enter__(self):
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.stop()
