"""Verification metrics from pair scores: accuracy, ROC, EER, TAR at fixed FAR.

Scores are similarities (higher means more alike); a pair is called "same" when its score is
at least the threshold.
"""

from __future__ import annotations

import numpy as np

FAR_POINTS = (0.01, 0.001, 0.0001)


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds) for every distinct threshold, from strictest to loosest."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    scores, same = scores[order], same[order]
    distinct = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    tp = np.cumsum(same)[distinct]
    fp = np.cumsum(~same)[distinct]
    n_pos, n_neg = max(int(same.sum()), 1), max(int((~same).sum()), 1)
    far = np.r_[0.0, fp / n_neg]
    tar = np.r_[0.0, tp / n_pos]
    thresholds = np.r_[np.inf, scores[distinct]]
    return far, tar, thresholds


def auc(far: np.ndarray, tar: np.ndarray) -> float:
    return float(np.trapezoid(tar, far))


def eer(far: np.ndarray, tar: np.ndarray) -> float:
    """Equal error rate: where the false-accept rate equals the false-reject rate."""
    frr = 1.0 - tar
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2.0)


def tar_at_far(far: np.ndarray, tar: np.ndarray, thresholds: np.ndarray, target: float,
               n_negatives: int) -> tuple[float, float] | None:
    """(TAR, threshold) at the loosest threshold whose FAR is at most ``target``, or None when
    fewer than 1 / target impostor pairs exist (the rate could not be measured)."""
    if n_negatives * target < 1.0:
        return None
    ok = np.nonzero(far <= target)[0]
    i = int(ok[-1])
    return float(tar[i]), float(thresholds[i])


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy on these pairs; the threshold sits halfway
    between the two scores it separates, so it generalises rather than touching a sample."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # Threshold between s[i-1] and s[i]: pairs [i:] are called same.
    n = len(s)
    neg_below = np.r_[0, np.cumsum(~y)]            # correct rejections for cut at i
    pos_above = np.r_[np.cumsum(y[::-1])[::-1], 0]  # correct accepts for cut at i
    correct = neg_below + pos_above
    valid = np.r_[True, s[1:] > s[:-1], True]
    correct = np.where(valid, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        threshold = s[0] - 1e-6
    elif i == n:
        threshold = s[-1] + 1e-6
    else:
        threshold = (s[i - 1] + s[i]) / 2.0
    return float(threshold), float(correct[i] / n)


def accuracy_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(same, dtype=bool)))


def cross_fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> float:
    """Mean accuracy over folds, each judged with the threshold chosen on all the others
    (LFW's protocol). With a single fold, the fold's own best threshold is used."""
    folds = np.asarray(folds)
    names = np.unique(folds)
    if len(names) < 2:
        return best_threshold(scores, same)[1]
    accuracies = []
    for fold in names:
        test = folds == fold
        threshold, _ = best_threshold(scores[~test], same[~test])
        accuracies.append(accuracy_at(scores[test], same[test], threshold))
    return float(np.mean(accuracies))


def verification_metrics(scores: np.ndarray, same: np.ndarray,
                         folds: np.ndarray | None = None) -> dict:
    """The metrics.json figures for a set of scored pairs (fractions, not percents)."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    far, tar, thresholds = roc_curve(scores, same)
    n_neg = int((~same).sum())
    tars, far_thresholds = {}, {}
    for point in FAR_POINTS:
        found = tar_at_far(far, tar, thresholds, point, n_neg)
        tars[str(point)] = None if found is None else round(found[0], 6)
        far_thresholds[str(point)] = None if found is None else round(found[1], 6)
    threshold, _ = best_threshold(scores, same)
    return {
        "pairs": int(len(scores)),
        "same_pairs": int(same.sum()),
        "different_pairs": n_neg,
        "accuracy": None if folds is None else round(cross_fold_accuracy(scores, same, folds), 6),
        "auc": round(auc(far, tar), 6),
        "eer": round(eer(far, tar), 6),
        "tar_at_far": tars,
        "threshold": round(threshold, 6),
        "threshold_at_far": far_thresholds,
    }
