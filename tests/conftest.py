"""Shared fixtures: where the real data lives, and a quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# TensorFlow's start-up chatter (CPU features, oneDNN) hides the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the repository (``../shared/data``).

    Tests about real faces skip without it on a developer's machine, but fail in CI (the
    ``CI`` environment variable is set), where a missing folder means the job is set up
    wrong and a skip would hide that nothing was tested.
    """
    if not SHARED_DATA.is_dir():
        message = f"real data not found at {SHARED_DATA}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide it")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="module")
def detector():
    """A MediaPipe face detector in image mode, shared by a test module."""
    from livesiam.config import DetectOptions
    from livesiam.detect import FaceDetector

    with FaceDetector(DetectOptions()) as detector:
        yield detector


@pytest.fixture(scope="module")
def stills(shared_data: Path) -> Path:
    """The folder of real stills: Obama, Biden, the Hamilton performer and pianist."""
    return shared_data / "videos" / "hamilton"
