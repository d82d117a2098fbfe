"""The server's version policy: broken, half-written or corrupt pushes never take the last good version away."""

import os
import shutil
import time

import pytest

from serving.versions import ModelRegistry


class _Spec:  # a ModelSpec without a version: the newest
    name = "grec"

    @staticmethod
    def HasField(_):  # noqa: N802 (the proto's name)
        return False


@pytest.fixture
def base(exported, tmp_path):
    folder = tmp_path / "grec"
    shutil.copytree(os.path.join(exported.base_path, "1"), folder / "1")
    return folder


def _broken(base, version: int, good: str | None = None):
    """A version whose saved_model.pb is garbage (or, with ``good``, only saved_model.pb of a good one)."""
    folder = base / str(version)
    folder.mkdir()
    if good:
        shutil.copy(os.path.join(good, "saved_model.pb"), folder / "saved_model.pb")  # the rest not copied yet
    else:
        (folder / "saved_model.pb").write_bytes(b"not a SavedModel")
    return folder


def _registry(base, **kwargs):
    registry = ModelRegistry("grec", str(base), poll_seconds=3600, settle_seconds=0, **kwargs)  # refresh by hand
    registry.stop()
    return registry


def test_two_broken_pushes_in_a_row_leave_the_good_version_serving(base):
    registry = _registry(base)
    _broken(base, 2)
    _broken(base, 3)
    registry.refresh()
    assert registry.versions() == [1] and registry.get(_Spec()).version == 1
    # A new good version is served beside the last good one; the broken ones never count.
    shutil.copytree(base / "1", base / "4")
    registry.refresh()
    assert registry.versions() == [1, 4] and registry.get(_Spec()).version == 4


def test_a_half_written_version_is_retried_when_its_files_arrive(base):
    registry = _registry(base)
    half = _broken(base, 2, good=str(base / "1"))
    registry.refresh()
    assert registry.versions() == [1]  # failed once, not forgotten
    for entry in os.listdir(base / "1"):
        if entry != "saved_model.pb":
            copy = shutil.copytree if os.path.isdir(base / "1" / entry) else shutil.copy
            copy(base / "1" / entry, half / entry)
    registry.refresh()  # its files changed: retried now, not after the backoff
    assert registry.versions() == [1, 2]


def test_a_corrupt_version_fixed_in_place_recovers_after_backoff(base):
    registry = _registry(base)
    corrupt = _broken(base, 2)
    registry.refresh()
    registry.refresh()  # unchanged files within the backoff: not retried (no second failure logged)
    assert registry._failed[2][2] == 1
    shutil.rmtree(corrupt)
    shutil.copytree(base / "1", corrupt)
    registry.refresh()
    assert registry.versions() == [1, 2] and 2 not in registry._failed


def test_a_version_still_being_written_is_not_tried(base, caplog):
    registry = _registry(base)
    registry.settle_seconds = 30
    shutil.copytree(base / "1", base / "2")  # copytree keeps mtimes; the new inodes' ctime is now
    registry.refresh()
    assert registry.versions() == [1] and 2 not in registry._failed  # not even tried
    registry.settle_seconds = 0
    registry.refresh()
    assert registry.versions() == [1, 2]


def test_the_oldest_is_unloaded_only_once_a_newer_one_loads(base):
    registry = _registry(base, keep_versions=1)
    _broken(base, 2)
    registry.refresh()
    assert registry.versions() == [1]
    shutil.copytree(base / "1", base / "3")
    time.sleep(0.01)
    registry.refresh()
    assert registry.versions() == [3]


def test_an_unloaded_version_is_freed_and_its_memory_returned_once_its_last_request_lets_go(base, monkeypatch):
    import weakref

    from serving import versions

    trims = []
    monkeypatch.setattr(versions, "release_freed_memory", lambda: trims.append(1))
    registry = _registry(base, keep_versions=1)
    in_flight = registry.get(_Spec())  # a request still running on version 1
    gone = weakref.ref(in_flight)
    shutil.copytree(base / "1", base / "2")
    registry.refresh()
    assert registry.versions() == [2] and gone() is not None and trims == []  # held: nothing to return yet
    registry.refresh()
    assert trims == []
    del in_flight  # the request finishes
    assert gone() is None  # no reference cycle keeps a version (its graph and session) alive
    registry.refresh()
    assert trims == [1]
    registry.refresh()
    assert trims == [1]  # once per freed version
