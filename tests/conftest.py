"""Shared fixtures: every test runs in its own working directory with fresh settings."""

from __future__ import annotations

import copy

import pytest

import daskflow
from daskflow import settings

_SETTINGS = [name for name in settings.__all__ if name != "set_dir"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """chdir to ``tmp_path``; restore ``daskflow.settings`` and clear ``daskflow.data``
    afterwards, so relative ``data/`` outputs and in-memory outputs never leak between tests."""
    monkeypatch.chdir(tmp_path)
    saved = {name: copy.copy(getattr(settings, name)) for name in _SETTINGS}
    daskflow.data.clear()
    yield tmp_path
    for name, value in saved.items():
        setattr(settings, name, value)
    daskflow.data.clear()


@pytest.fixture(autouse=True)
def restore_format_registry():
    """Formats a test registers (or replaces) are gone afterwards."""
    from daskflow import formats

    saved = dict(formats._formats)
    saved_flag = formats._entry_points_loaded
    yield
    formats._formats.clear()
    formats._formats.update(saved)
    formats._entry_points_loaded = saved_flag


@pytest.fixture
def memory_url():
    """A fresh ``memory://`` root for one test; removed afterwards."""
    import uuid

    import fsspec

    root = f"memory://daskflow-test-{uuid.uuid4().hex[:12]}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root.split("://", 1)[1]
    if fs.exists(path):
        fs.rm(path, recursive=True)
