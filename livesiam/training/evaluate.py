"""Verification evaluation: scoring pairs of faces and plotting what the scores look like."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from .metrics import verification_metrics

log = logging.getLogger(__name__)

EmbedFn = Callable[[np.ndarray], np.ndarray]


def pair_scores(embeddings: dict[str, np.ndarray], pairs: list[tuple[str, str, bool, int]],
                similarity: Callable[[np.ndarray, np.ndarray], float] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, same, folds) of pairs whose images both have an embedding; the score is
    ``similarity(a, b)``, by default the dot product of unit-length embeddings."""
    similarity = similarity or (lambda a, b: float(np.dot(a, b)))
    scores, same, folds = [], [], []
    for left, right, is_same, fold in pairs:
        scores.append(similarity(embeddings[left], embeddings[right]))
        same.append(is_same)
        folds.append(fold)
    return np.array(scores), np.array(same, dtype=bool), np.array(folds)


def identity_scores(embeddings: np.ndarray, identities: np.ndarray,
                    max_impostor_pairs: int = 2_000_000, seed: int = 0,
                    euclidean: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scores, same) of every same-person pair and of the different-person pairs among a set
    of images: all of them, or a uniform sample of ``max_impostor_pairs`` when there are more."""
    n = len(embeddings)
    i, j = np.triu_indices(n, k=1)
    same = identities[i] == identities[j]
    genuine = np.nonzero(same)[0]
    impostor = np.nonzero(~same)[0]
    if len(impostor) > max_impostor_pairs:
        rng = np.random.default_rng(seed)
        impostor = np.sort(rng.choice(impostor, size=max_impostor_pairs, replace=False))
    keep = np.concatenate([genuine, impostor])
    a, b = embeddings[i[keep]], embeddings[j[keep]]
    if euclidean:
        # Embedders trained on Euclidean distance (dlib's) are scored by its negative, so
        # that higher still means more alike.
        return -np.linalg.norm(a - b, axis=1), same[keep]
    return np.einsum("ij,ij->i", a, b), same[keep]


def evaluate_scores(scores: np.ndarray, same: np.ndarray, folds: np.ndarray | None,
                    out_dir: str | Path | None = None, title: str = "") -> dict:
    metrics = verification_metrics(scores, same, folds)
    if out_dir is not None:
        plot_roc(scores, same, Path(out_dir) / "roc.png", metrics, title)
    return metrics


def plot_roc(scores: np.ndarray, same: np.ndarray, path: Path, metrics: dict,
             title: str = "") -> None:
    """ROC curve (log FAR axis) beside the same- and different-person score histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import roc_curve

    far, tar, _ = roc_curve(scores, same)
    fig, (ax_roc, ax_hist) = plt.subplots(1, 2, figsize=(11, 4.2))
    keep = far > 0
    ax_roc.plot(far[keep], tar[keep], color="#1f77b4", lw=2)
    ax_roc.set_xscale("log")
    low = max(far[keep].min(), 1e-6)
    ax_roc.set_xlim(low if low < 1.0 else 1e-6, 1.0)
    ax_roc.set_ylim(max(0.0, tar[keep].min() - 0.02), 1.0005)
    ax_roc.set_xlabel("false accept rate")
    ax_roc.set_ylabel("true accept rate")
    ax_roc.grid(True, which="both", alpha=0.3)
    label = f"AUC {metrics['auc']:.4f}   EER {metrics['eer']:.4f}"
    if metrics.get("accuracy") is not None:
        label = f"accuracy {metrics['accuracy']:.4f}   " + label
    ax_roc.set_title(label, fontsize=10)

    bins = np.linspace(scores.min(), scores.max(), 60)
    ax_hist.hist(scores[~same], bins=bins, alpha=0.6, density=True, color="#d62728",
                 label=f"different person ({int((~same).sum())})")
    ax_hist.hist(scores[same], bins=bins, alpha=0.6, density=True, color="#2ca02c",
                 label=f"same person ({int(same.sum())})")
    ax_hist.axvline(metrics["threshold"], color="k", ls="--", lw=1,
                    label=f"best-accuracy threshold {metrics['threshold']:.3f}")
    ax_hist.set_xlabel("score (higher means more alike)")
    ax_hist.set_ylabel("density")
    ax_hist.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
