"""Speed of the runtime encoder on this machine's CPU.

Prints the median time to embed one aligned face (batch 1) and a batch of 8 faces with the
shipped TFLite encoder, and their ratio, measured in one run so that the machine's load affects
both alike. Usage: python benchmarks/encoder_speed.py [--weights DIR] [--threads 2] [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from livesiam.config import EmbedOptions  # noqa: E402
from livesiam.embed import Embedder  # noqa: E402


def median_ms(embedder: Embedder, crops: np.ndarray, runs: int) -> float:
    for _ in range(10):
        embedder.embed(crops)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        embedder.embed(crops)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    embedder = Embedder(EmbedOptions(weights=args.weights, device="cpu", threads=args.threads))
    size = embedder.input_size
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    eight = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)

    # Alternate the two sizes so that drifting machine load falls on both.
    rounds = [(median_ms(embedder, one, args.runs // 4),
               median_ms(embedder, eight, args.runs // 4)) for _ in range(4)]
    single = statistics.median(r[0] for r in rounds)
    batch = statistics.median(r[1] for r in rounds)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"TFLite encoder, {args.threads} threads, {size}x{size} input")
    print(f"batch 1: {single:.2f} ms per call (median)")
    print(f"batch 8: {batch:.2f} ms per call (median), {batch / 8:.2f} ms per face")
    print(f"batch 8 / batch 1: {batch / single:.2f}x")


if __name__ == "__main__":
    main()
