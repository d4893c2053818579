"""Tracking figures on whole real clips, as `livesiam evaluate-track` reports them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def livesiam(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livesiam", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


def evaluate_track(out: Path, *args: str) -> dict:
    result = livesiam("evaluate-track", *args, "--compare-updates", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    return json.loads((out / "track_metrics.json").read_text())


def test_otb_girl_small_face_is_followed_and_the_man_never_takes_her_name(shared_data,
                                                                         tmp_path):
    girl = shared_data / "videos" / "otb-girl"
    report = evaluate_track(tmp_path, str(girl / "img"), "--truth",
                            str(girl / "groundtruth_rect.txt"),
                            "--target-from-first-frame", "girl")
    adaptive, fixed = report["policies"]["confident"], report["policies"]["none"]
    assert report["precision"] >= 0.97
    assert report["recall"] >= 0.75
    assert report["false_frames"] == 0
    assert adaptive["recall"] > fixed["recall"]
    assert adaptive["precision"] >= fixed["precision"]


@pytest.mark.parametrize("clip", ["d3", "d6", "d9", "d10", "d13"])
def test_expression_clip_person_is_labelled_throughout(shared_data, tmp_path, clip):
    video = shared_data / "videos" / "expressions" / f"{clip}.mp4"
    report = evaluate_track(tmp_path, str(video), "--present",
                            "--target-from-first-frame", clip)
    assert report["recall"] >= 0.95
    assert set(report["policies"]) == {"none", "confident"}


def test_jackie_chan_enrolled_from_old_photos_is_found_and_katie_hill_is_not(shared_data,
                                                                            tmp_path):
    jackie = f"Jackie_Chan={shared_data / 'faces' / 'lfw' / 'Jackie_Chan'}"
    report = evaluate_track(tmp_path / "jackie",
                            str(shared_data / "videos" / "jackie-chan" / "driving.mp4"),
                            "--present", "--target", jackie)
    assert report["recall"] >= 0.90

    out = tmp_path / "katie"
    result = livesiam("analyze", str(shared_data / "videos" / "talking" / "katie-hill.mp4"),
                      "--target", jackie, "--out", str(out), "--no-video", "-q")
    assert result.returncode == 0, result.stderr
    frames = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    wrong = [f["frame"] for f in frames if any(x["label"] == "Jackie_Chan" for x in f["faces"])]
    assert len(frames) == 200
    assert wrong == []
