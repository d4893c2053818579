"""The `livesiam` command: thin wiring of the pipeline's stages.

Only this module prints and chooses exit codes: 0 success (for `verify`: same person),
1 `verify` says different people, 2 an error (one line on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import InputError, LiveSiamError, OutputError

log = logging.getLogger("livesiam")

EXIT_OK, EXIT_DIFFERENT, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _quiet_native_logs() -> None:
    """Keep TensorFlow's, LiteRT's and MediaPipe's C++ start-up chatter off the terminal.

    Their native loggers write straight to file descriptor 2 and ignore most settings, so the
    descriptor is pointed at /dev/null while Python's own stderr (our messages, warnings, the
    progress bar) keeps writing to the real terminal through a duplicate. LIVESIAM_NATIVE_LOGS=1
    or -vv keeps the native logs.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "2")
    if os.environ.get("LIVESIAM_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="replace")
    except (OSError, ValueError, AttributeError):
        pass  # no real descriptor behind stderr (embedded use, tests): leave it alone


# --- shared options ---------------------------------------------------------------------------

def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML file of options (see configs/)")
    p.add_argument("--weights", help="folder of encoder weights (default: the shipped ones)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"),
                   help="where the encoder runs (default: auto, the GPU when one is seen)")
    p.add_argument("--threshold",
                   help="similarity threshold: a number, or a name from the weights' manifest "
                        "('best', 'strict' for doors)")
    p.add_argument("--detector", choices=("short", "full"),
                   help="BlazeFace model: short range (close faces) or full range (distant)")


def _add_target_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--target", action="append", default=[], metavar="[NAME=]PATH",
                   help="a photo or folder of photos of a person to find; repeatable; values "
                        "with the same NAME are one person")
    p.add_argument("--gallery", nargs="?", const="", default=None, metavar="FILE",
                   help="also look for everyone enrolled in this gallery (no FILE: the "
                        "default gallery)")
    p.add_argument("--update", choices=("none", "confident"),
                   help="template updating policy (default: confident)")


def _config(args: argparse.Namespace):
    from .config import load_config

    config = load_config(getattr(args, "config", None))
    if getattr(args, "weights", None):
        config.embed.weights = args.weights
    if getattr(args, "device", None):
        config.embed.device = args.device
    if getattr(args, "threshold", None):
        config.match.threshold = args.threshold.strip()
    if getattr(args, "detector", None):
        config.detect.model = args.detector
    if getattr(args, "update", None):
        config.templates.policy = args.update
    if getattr(args, "fps", None) is not None:
        if not math.isfinite(args.fps) or not 0.01 <= args.fps <= 1000:
            raise InputError(f"--fps must be between 0.01 and 1000, got {args.fps}")
        config.capture.folder_fps = args.fps
    if getattr(args, "threshold", None) is not None and not str(args.threshold).strip():
        raise InputError("--threshold is empty; give a number or a name such as best or strict")
    if getattr(args, "max_frames", 0) < 0:
        raise InputError(f"--max-frames must be 0 (no limit) or more, got {args.max_frames}")
    return config


def _gallery_path(args: argparse.Namespace) -> Path | None:
    from .gallery import default_gallery_path

    if args.gallery is None:
        return None
    return Path(args.gallery) if args.gallery else default_gallery_path()


def _check_targets(args: argparse.Namespace) -> None:
    """Fail on a missing --target path or gallery before seconds go into loading the models."""
    from .gallery import load_gallery, target_specs

    if not args.target and args.gallery is None and not getattr(args, "target_images", None):
        raise InputError("nobody to look for: give --target [NAME=]PATH or --gallery")
    target_specs(args.target)
    if args.gallery is not None:
        load_gallery(_gallery_path(args))


def _targets(args: argparse.Namespace, stages, config) -> dict:
    """Enrolled embeddings of every --target and gallery identity, in the order given."""
    import numpy as np

    from .detect import FaceDetector
    from .gallery import (embed_photos, enrolment_embeddings, face_crop_from_image,
                          load_gallery, target_specs)

    images = getattr(args, "target_images", None) or {}
    if not args.target and args.gallery is None and not images:
        raise InputError("nobody to look for: give --target [NAME=]PATH or --gallery")
    targets: dict[str, np.ndarray] = {}
    mirror = config.templates.enrol_mirrored
    # Enrolment photos are single images: a separate image-mode detector keeps the video-mode
    # detector's timestamps those of the footage.
    with FaceDetector(stages.detector.options, video=False) as detector:
        for name, image in images.items():
            crop = face_crop_from_image(image, detector, stages.embedder.input_size, name,
                                        stages.embedder.layout)
            targets[name] = enrolment_embeddings(crop[None], stages.embedder, mirror)
        for spec in target_specs(args.target):
            targets[spec.name] = embed_photos(spec.photos, detector, stages.embedder,
                                              skip_bad=True, mirror=mirror)
    if args.gallery is not None:
        path = _gallery_path(args)
        for name, embeddings in load_gallery(path, stages.embedder).identities().items():
            if name in targets:
                embeddings = np.concatenate([targets[name], embeddings])
            targets[name] = embeddings
    return targets


def _recognizer(args: argparse.Namespace, config, video: bool):
    from .pipeline import Recognizer, Stages

    _check_targets(args)
    stages = Stages.build(config, video=video)
    try:
        return Recognizer.create(config, _targets(args, stages, config), stages)
    except BaseException:
        stages.close()
        raise


# --- commands ---------------------------------------------------------------------------------

def _output_folder(path: str) -> Path:
    """The --out folder, created if needed; an output error when it cannot be."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") \
            from exc
    return out


def cmd_verify(args: argparse.Namespace) -> int:
    from .detect import FaceDetector
    from .embed import Embedder
    from .gallery import face_crop_from_photo
    from .images import load_image

    config = _config(args)
    # A missing or unreadable photo is reported before seconds go into loading the models.
    for photo in (args.image_a, args.image_b):
        load_image(photo)
    embedder = Embedder(config.embed)
    threshold = embedder.manifest.threshold(config.match.threshold)
    with FaceDetector(config.detect) as detector:
        crops = [face_crop_from_photo(Path(p), detector, embedder.input_size, embedder.layout)
                 for p in (args.image_a, args.image_b)]
    import numpy as np

    a, b = embedder.embed(np.stack(crops))
    score = embedder.score(a, b)
    same = score >= threshold
    verdict = "same person" if same else "different people"
    if args.json:
        print(json.dumps({"score": round(score, 4), "threshold": round(threshold, 4),
                          "same": bool(same)}))
    else:
        print(f"score {score:.3f}  threshold {threshold:.3f}  {verdict}")
    return EXIT_OK if same else EXIT_DIFFERENT


def cmd_enroll(args: argparse.Namespace) -> int:
    from .detect import FaceDetector
    from .embed import Embedder
    from .gallery import default_gallery_path, enroll

    config = _config(args)
    if not args.name.strip() or "=" in args.name:
        raise InputError(f"name {args.name!r}: give a non-empty name without '='")
    embedder = Embedder(config.embed)
    path = Path(args.gallery) if args.gallery else default_gallery_path()
    photos = [Path(p) for p in args.photos]
    with FaceDetector(config.detect) as detector:
        gallery = enroll(path, args.name, photos, detector, embedder,
                         mirror=config.templates.enrol_mirrored)
    count = len({s for n, s in zip(gallery.names, gallery.sources)
                 if n == args.name and not s.endswith("(mirrored)")})
    print(f"enrolled {args.name}: {len(photos)} photo(s), {count} in all; gallery {path} "
          f"holds {len(set(gallery.names))} people")
    return EXIT_OK


def _progress(total: int | None, desc: str, enabled: bool = True):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, leave=False)


def _hindsight(config, recognizer):
    """The fixed-lag label smoother for recorded video, or None when tracking is off."""
    from .track import Hindsight

    if recognizer.tracker is None or config.track.hindsight_frames <= 0:
        return None
    return Hindsight(config.track.hindsight_frames, recognizer.threshold,
                     config.track.hindsight_margin)


def cmd_analyze(args: argparse.Namespace) -> int:
    from .capture import open_source
    from .overlay import draw_results
    from .report import AnalysisWriter

    config = _config(args)
    out = Path(args.out)
    # The source opens first: one that cannot be read fails before the models load.
    with open_source(args.source, config.capture) as source:
        recognizer = _recognizer(args, config, video=True)
        started = time.perf_counter()
        try:
            with AnalysisWriter(out, source.fps or config.capture.folder_fps, source.size,
                                write_video=not args.no_video) as writer, \
                    _progress(source.frame_count, "analysing", not args.quiet) as bar:
                def write(held: list) -> None:
                    for result, image in held:
                        annotated = None
                        if image is not None:
                            annotated = draw_results(image, result.faces, title=source.name)
                        writer.add(result, annotated)

                hindsight = _hindsight(config, recognizer)
                for frame in source:
                    result = recognizer.process(frame)
                    image = None if args.no_video else frame.image
                    write(hindsight.push(result, image) if hindsight else [(result, image)])
                    bar.update(1)
                if hindsight:
                    write(hindsight.flush())
                if writer.frames == 0:
                    raise LiveSiamError(f"{args.source}: gave no frames")
                seconds = time.perf_counter() - started
                summary = writer.finish(seconds, extra={
                    "source": str(args.source),
                    "targets": recognizer.names,
                    "threshold": round(recognizer.threshold, 4),
                    "device": recognizer.stages.embedder.device,
                    "template_updates": [u for t in recognizer.targets for u in t.updates],
                    "track_events": recognizer.tracker.events if recognizer.tracker else [],
                })
        finally:
            recognizer.stages.close()
    labels = ", ".join(f"{name} {len(v)} interval(s)" for name, v in summary["labels"].items())
    print(f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.1f} fps)"
          f"; {labels or 'nobody recognised'}; wrote {out}/summary.json, frames.jsonl"
          f"{'' if args.no_video else ', annotated.mp4'}")
    return EXIT_OK


def _display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or \
        sys.platform in ("win32", "darwin")


def cmd_watch(args: argparse.Namespace) -> int:
    import cv2

    from .capture import open_source, realtime
    from .overlay import draw_results

    config = _config(args)
    show = not args.no_display
    if show and not _display_available():
        raise InputError("no display here; use --no-display (and --save FILE.mp4 to record)")
    recognizer = _recognizer(args, config, video=True)
    writer = None
    shown = seen_events = 0
    last_index = -1
    fps = None
    last = time.perf_counter()
    try:
        with open_source(args.source, config.capture) as source:
            frames = realtime(source) if config.capture.realtime else iter(source)
            for frame in frames:
                result = recognizer.process(frame)
                now = time.perf_counter()
                instant = 1.0 / max(now - last, 1e-6)
                fps = instant if fps is None else 0.9 * fps + 0.1 * instant
                last = now
                annotated = draw_results(frame.image, result.faces, fps=fps, title=source.name)
                if args.save:
                    writer = writer or _video_writer(args.save, annotated, source.fps)
                    writer.write(cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
                if show:
                    cv2.imshow("LiveSiam", cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        break
                if args.json:
                    print(json.dumps(result.to_json()), flush=True)
                elif not show and recognizer.tracker is not None:
                    _say_events(recognizer.tracker.events[seen_events:], frame.time)
                seen_events = len(recognizer.tracker.events) if recognizer.tracker else 0
                shown += 1
                last_index = frame.index
                if args.max_frames and shown >= args.max_frames:
                    break
    finally:
        recognizer.stages.close()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    if shown == 0:
        raise LiveSiamError(f"{args.source}: gave no frames")
    dropped = last_index + 1 - shown
    print(f"{shown} frames processed" + (f", {fps:.1f} fps" if fps else "") +
          (f", {dropped} dropped to keep up" if dropped > 0 else "") +
          (f"; recorded {args.save}" if args.save else ""), file=sys.stderr)
    return EXIT_OK


EVENT_WORDS = {"labelled": "recognised", "label_dropped": "no longer recognised",
               "label_moved": "moved to a new track", "lost": "lost",
               "ended_at_cut": "shot cut"}


def _say_events(events: list[dict], seconds: float) -> None:
    """One line per identity event, for a headless `watch`."""
    for event in events:
        if event["target"] is None:
            continue
        stamp = f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"
        print(f"{stamp} frame {event['frame']}: {event['target']} "
              f"{EVENT_WORDS.get(event['event'], event['event'])} (track {event['track']})",
              flush=True)


def _video_writer(path: str, first, fps: float | None):
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps or 30.0,
                             (width, height))
    if not writer.isOpened():
        raise InputError(f"{path}: cannot write a video there")
    return writer


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import TARGET_NAME, demo_target_image, make_demo_clip

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder for the demo's output")
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo-clip.mp4"
    target = out / "enrolment.png"
    import cv2

    cv2.imwrite(str(target), cv2.cvtColor(demo_target_image(), cv2.COLOR_RGB2BGR))
    info = make_demo_clip(clip)
    print(f"demo clip: {info['frames']} frames of {TARGET_NAME} moving under changing light, "
          f"with a second person for a while; looking for {TARGET_NAME}")
    ns = argparse.Namespace(**vars(args))
    ns.source, ns.target, ns.gallery = str(clip), [f"{TARGET_NAME}={target}"], None
    ns.out = str(out)
    ns.no_video, ns.quiet = False, args.quiet
    code = cmd_analyze(ns)

    summary = json.loads((out / "summary.json").read_text())
    frames = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    hits = sum(1 for i in info["target_frames"]
               if any(f["label"] == TARGET_NAME for f in frames[i]["faces"]))
    false = sum(1 for fr in frames for f in fr["faces"]
                if f["label"] == TARGET_NAME and fr["frame"] not in set(info["target_frames"]))
    print(f"{TARGET_NAME} recognised in {hits} of {len(info['target_frames'])} frames where she "
          f"is shown; {false} frame(s) gave her name to someone else; "
          f"{summary['fps']:.1f} frames per second; see {out}/annotated.mp4")
    return code


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .embed import Embedder
    from .report import write_json_atomic
    from .training.evaluate_cli import evaluate_identities, evaluate_pairs

    config = _config(args)
    if bool(args.pairs) == bool(args.identities):
        raise InputError("give either --pairs FILE (with --root DIR) or --identities DIR")
    embedder = Embedder(config.embed)
    out = _output_folder(args.out)
    if args.pairs:
        # LFW's pairs file sits in the folder its paths start from.
        args.root = args.root or str(Path(args.pairs).parent)
        folds = None
        if args.folds:
            try:
                folds = [int(f) for f in args.folds.split(",") if f.strip()]
            except ValueError as exc:
                raise InputError(f"--folds {args.folds}: expected numbers like 7,8") from exc
        metrics = evaluate_pairs(embedder, args.pairs, args.root, out, folds,
                                 pick=args.pick or "centre")
    else:
        metrics = evaluate_identities(embedder, args.identities, out,
                                      pick=args.pick or "largest")
        metrics["accuracy"] = None
    metrics["weights"] = str(embedder.manifest.path)
    write_json_atomic(out / "metrics.json", metrics)
    accuracy = "" if metrics["accuracy"] is None else f"accuracy {metrics['accuracy']:.4f}  "
    tars = "  ".join(f"TAR@FAR={k} {v:.4f}" for k, v in metrics["tar_at_far"].items()
                     if v is not None)
    print(f"{metrics['pairs']} pairs  {accuracy}AUC {metrics['auc']:.4f}  EER "
          f"{metrics['eer']:.4f}  {tars}  (no face: {metrics['no_face']})")
    print(f"wrote {out / 'metrics.json'} and {out / 'roc.png'}")
    return EXIT_OK


def cmd_evaluate_track(args: argparse.Namespace) -> int:
    from .capture import open_source
    from .report import write_json_atomic
    from .track_metrics import read_truth, track_metrics

    config = _config(args)
    if bool(args.truth) == bool(args.present):
        raise InputError("give either --truth FILE or --present")
    truth = read_truth(args.truth) if args.truth else None
    if args.target_from_first_frame:
        with open_source(args.source, config.capture) as source:
            first = source.read()
        if first is None:
            raise LiveSiamError(f"{args.source}: gave no frames")
        image = first.image
        if truth is not None:
            if truth[0] is None:
                raise InputError("--target-from-first-frame: the truth has no box in the "
                                 "first frame")
            x, y, w, h = (int(round(v)) for v in truth[0])
            image = image[max(y, 0):y + h, max(x, 0):x + w].copy()
        args.target_images = {args.target_from_first_frame: image}
    default = config.templates.policy
    policies = [default]
    if args.compare_updates:
        policies = ["none", default if default != "none" else "confident"]
    out = _output_folder(args.out)

    measured = {}
    for policy in policies:
        config.templates.policy = policy
        recognizer = _recognizer(args, config, video=True)
        target = recognizer.names[0]
        results = []
        try:
            with open_source(args.source, config.capture) as source, \
                    _progress(source.frame_count, f"tracking ({policy})", not args.quiet) as bar:
                hindsight = _hindsight(config, recognizer)
                for frame in source:
                    result = recognizer.process(frame)
                    if hindsight:
                        hindsight.push(result)
                    results.append(result)
                    bar.update(1)
        finally:
            recognizer.stages.close()
        if not results:
            raise LiveSiamError(f"{args.source}: gave no frames")
        with (out / f"frames-{policy}.jsonl").open("w") as fh:
            for result in results:
                fh.write(json.dumps(result.to_json()) + "\n")
        metrics = track_metrics(results, target, truth)
        metrics["template_updates"] = sum(len(t.updates) for t in recognizer.targets)
        measured[policy] = metrics

    report = {"target": target, "policy": policies[-1], **measured[policies[-1]]}
    if args.compare_updates:
        report["policies"] = measured
    write_json_atomic(out / "track_metrics.json", report)
    for policy, m in measured.items():
        precision = "n/a" if m["precision"] is None else f"{m['precision']:.3f}"
        mean = "n/a" if m["mean_score"] is None else f"{m['mean_score']:.3f}"
        print(f"{policy:>10}: recall {m['recall']:.3f}  precision {precision}  false frames "
              f"{m['false_frames']}  id switches {m['id_switches']}  template updates "
              f"{m['template_updates']}  mean score {mean}")
    print(f"wrote {out / 'track_metrics.json'}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .training.train import load_train_config, run

    config = load_train_config(args.config)
    if args.epochs is not None:
        if args.epochs < 1:
            raise InputError(f"--epochs {args.epochs}: train at least one epoch")
        config.epochs = args.epochs
    for folder in (args.out, args.export):
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise OutputError(f"{folder}: exists and is not a folder")
    manifest = run(config, args.out, resume=not args.restart, export_to=args.export)
    pairs = manifest["evaluation"]["pairs"]
    print(f"trained {config.encoder} in {manifest['training_seconds'] / 60:.1f} min; held-out "
          f"LFW accuracy {pairs['accuracy']:.4f}, AUC {pairs['auc']:.4f}; weights in "
          f"{args.export or Path(args.out) / 'weights'}")
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livesiam",
        description="Recognise people in live camera feeds and recorded video with a Siamese "
                    "face encoder.")
    parser.add_argument("--version", action="version", version=f"livesiam {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("watch", help="live recognition on a camera, stream, video or folder")
    p.add_argument("source", help="camera index, video file, stream URL or folder of images")
    _add_target_options(p)
    _add_model_options(p)
    p.add_argument("--no-display", action="store_true", help="no window (headless machines)")
    p.add_argument("--save", metavar="FILE.mp4", help="record the annotated feed")
    p.add_argument("--json", action="store_true", help="print each frame's result as JSON")
    p.add_argument("--max-frames", type=int, default=0,
                   help="stop after this many frames (default 0: no limit)")
    p.add_argument("--fps", type=float, help="frame rate of a folder of images (default 30)")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("analyze", help="every frame of a recording, with a report")
    p.add_argument("source", help="video file, folder of images, camera or stream")
    _add_target_options(p)
    _add_model_options(p)
    p.add_argument("--out", required=True, help="folder for summary.json, frames.jsonl, "
                                                "annotated.mp4")
    p.add_argument("--fps", type=float, help="frame rate of a folder of images (default 30)")
    p.add_argument("--no-video", action="store_true", help="skip annotated.mp4")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("verify", help="are two photos the same person? (exit 0 same, "
                                      "1 different, 2 error)")
    p.add_argument("image_a")
    p.add_argument("image_b")
    _add_model_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("enroll", help="add a person to a gallery")
    p.add_argument("name")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--gallery", help="gallery file (default: ~/.local/share/livesiam/"
                                     "gallery.npz, or $LIVESIAM_GALLERY)")
    _add_model_options(p)
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("demo", help="the main job on a built-in clip; no data or network needed")
    p.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    _add_model_options(p)
    p.add_argument("--update", choices=("none", "confident"), help="template updating policy")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("evaluate", help="verification accuracy, ROC and TAR at FAR on a dataset")
    p.add_argument("--pairs", help="LFW-format pairs file, or CSV with header left,right,same")
    p.add_argument("--root", help="folder the pair paths are relative to (default: the pairs "
                                  "file's folder)")
    p.add_argument("--folds", help="keep only these folds, counted from 1 (e.g. 7,8)")
    p.add_argument("--identities", help="folder of identity folders: score every pair")
    p.add_argument("--pick", choices=("centre", "largest"),
                   help="which face of a photo with several (default: centre for pairs, "
                        "largest for identities)")
    p.add_argument("--out", required=True, help="folder for metrics.json and roc.png")
    _add_model_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("evaluate-track", help="how well a target is followed through a clip")
    p.add_argument("source", help="video file or folder of images")
    _add_target_options(p)
    _add_model_options(p)
    p.add_argument("--truth", help="one box per frame (x y w h; zeros or NaN where absent)")
    p.add_argument("--present", action="store_true",
                   help="the target is on screen in every frame (no boxes)")
    p.add_argument("--target-from-first-frame", metavar="NAME",
                   help="enrol NAME from the source's first frame instead of --target: the "
                        "crop of its true box with --truth (the tracking benchmarks' "
                        "protocol), else the largest face")
    p.add_argument("--compare-updates", action="store_true",
                   help="measure without template updating too")
    p.add_argument("--out", required=True, help="folder for track_metrics.json")
    p.add_argument("--fps", type=float, help="frame rate of a folder of images (default 30)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate_track)

    p = sub.add_parser("train", help="train the encoder from a recipe in configs/")
    p.add_argument("--config", required=True, type=Path, help="recipe, e.g. "
                                                              "configs/train-default.yaml")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics, weights")
    p.add_argument("--export", help="also write the weights here (e.g. weights/default)")
    p.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    p.add_argument("--restart", action="store_true",
                   help="ignore a checkpoint in --out and start over")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    if args.verbose < 2:
        _quiet_native_logs()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="livesiam: %(levelname)s: %(message)s",
                        stream=sys.stderr)
    try:
        return args.func(args)
    except LiveSiamError as exc:
        print(f"livesiam: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("livesiam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
