"""Tracking figures on the team's real footage, for each template-updating policy.

Runs `livesiam evaluate-track --compare-updates` on OTB Girl (enrolled from the crop of its
first true box), on every expressions clip (enrolled from its first frame), on Jackie Chan
(enrolled from his LFW photos, years younger) and counts how often Katie Hill, who is nobody's
target, is given his name. Prints a Markdown table.

    python benchmarks/tracking.py [--data ../shared/data] [--out runs/tracking]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def livesiam(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "livesiam", *args], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def evaluate(name: str, out: Path, *args: str) -> dict:
    folder = out / name
    livesiam("evaluate-track", *args, "--compare-updates", "--out", str(folder), "-q")
    return json.loads((folder / "track_metrics.json").read_text())


def cases(data: Path) -> list[tuple[str, list[str]]]:
    videos = data / "videos"
    girl = videos / "otb-girl"
    found = [("OTB Girl", [str(girl / "img"), "--truth", str(girl / "groundtruth_rect.txt"),
                           "--target-from-first-frame", "girl"])]
    for clip in sorted((videos / "expressions").glob("*.mp4")):
        found.append((f"expressions/{clip.name}",
                      [str(clip), "--present", "--target-from-first-frame", clip.stem]))
    found.append(("Jackie Chan", [str(videos / "jackie-chan" / "driving.mp4"), "--present",
                                  "--target", f"Jackie_Chan={data / 'faces/lfw/Jackie_Chan'}"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "tracking")
    args = parser.parse_args()

    rows = []
    for name, case_args in cases(args.data):
        report = evaluate(name.replace("/", "-").replace(" ", "-"), args.out, *case_args)
        for policy, m in report["policies"].items():
            rows.append((name, policy, m))

    katie = args.out / "katie-hill"
    livesiam("analyze", str(args.data / "videos/talking/katie-hill.mp4"), "--target",
             f"Jackie_Chan={args.data / 'faces/lfw/Jackie_Chan'}", "--out", str(katie),
             "--no-video", "-q")
    frames = [json.loads(line) for line in (katie / "frames.jsonl").read_text().splitlines()]
    katie_false = sum(any(f["label"] == "Jackie_Chan" for f in fr["faces"]) for fr in frames)

    def cell(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print("| clip | policy | frames | recall | precision | false frames | id switches | "
          "template updates | mean score |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, policy, m in rows:
        print(f"| {name} | {policy} | {m['frames']} | {cell(m['recall'])} | "
              f"{cell(m['precision'])} | {m['false_frames']} | {m['id_switches']} | "
              f"{m['template_updates']} | {cell(m['mean_score'])} |")
    print(f"\nKatie Hill labelled as Jackie_Chan in {katie_false} of {len(frames)} frames")


if __name__ == "__main__":
    main()
