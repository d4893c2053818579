"""End-to-end behaviour on real footage with the shipped weights.

These run the `livesiam` command as a user would, on the team's real data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIVESIAM = [sys.executable, "-m", "livesiam"]


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*LIVESIAM, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def frames_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]


def labelled(frame: dict, name: str) -> bool:
    return any(face["label"] == name for face in frame["faces"])


@pytest.fixture(scope="module")
def hamilton(shared_data, tmp_path_factory) -> tuple[Path, list[dict]]:
    clip = shared_data / "videos" / "hamilton"
    out = tmp_path_factory.mktemp("hamilton")
    result = run("analyze", str(clip / "short_hamilton_clip.mp4"),
                 "--target", str(clip / "lin-manuel-miranda.png"), "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    return out, frames_of(out)


def test_hamilton_performer_is_labelled_in_his_close_frontal_shot(hamilton):
    _, frames = hamilton
    shot = frames[82:211]
    hits = sum(labelled(f, "lin-manuel-miranda") for f in shot)
    assert hits >= 0.95 * len(shot), f"labelled in {hits} of {len(shot)} frames"


@pytest.mark.parametrize("start,end,what", [(20, 82, "the pianist in close profile"),
                                            (211, 275, "the audience")])
def test_hamilton_nobody_else_takes_the_performers_name(hamilton, start, end, what):
    _, frames = hamilton
    wrong = [f["frame"] for f in frames[start:end] if labelled(f, "lin-manuel-miranda")]
    assert len(wrong) <= 1, f"{what} labelled as the performer in frames {wrong}"


def test_hamilton_report_describes_the_run(hamilton):
    out, frames = hamilton
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == len(frames) == 275
    assert summary["fps"] > 0 and summary["seconds"] > 0
    assert summary["fps"] == pytest.approx(summary["frames"] / summary["seconds"], rel=0.01)
    assert summary["video_fps"] == pytest.approx(29.97, abs=0.01)
    assert [f["frame"] for f in frames] == list(range(275))
    start, end = summary["labels"]["lin-manuel-miranda"][0]
    assert 2.5 <= start <= 3.0 and end > start
    assert (out / "annotated.mp4").stat().st_size > 10_000


@pytest.mark.parametrize("other,expected", [("obama2.jpg", 0), ("biden.jpg", 1)])
def test_verify_obama(shared_data, other, expected):
    clip = shared_data / "videos" / "hamilton"
    result = run("verify", str(clip / "obama.jpg"), str(clip / other), "--json")
    assert result.returncode == expected, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["same"] is (expected == 0)


def test_demo_recognises_its_target_and_nobody_else(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    from livesiam.demo import TARGET_NAME, make_demo_clip

    info = make_demo_clip(tmp_path / "again.mp4")
    frames = frames_of(out)
    target = set(info["target_frames"])
    hits = sum(labelled(frames[i], TARGET_NAME) for i in target)
    assert hits >= 0.9 * len(target)
    other_labelled = [f["frame"] for f in frames
                      for face in f["faces"]
                      if face["label"] == TARGET_NAME and f["frame"] not in target]
    assert not other_labelled
    two_faces = [i for i in info["other_frames"] if len(frames[i]["faces"]) == 2]
    for i in two_faces:
        names = [face["label"] for face in frames[i]["faces"]]
        assert names.count(TARGET_NAME) <= 1
