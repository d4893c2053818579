"""Random pairs and triplets of images, drawn by identity, for Siamese training.

Identities are drawn uniformly, not images: a person with many photos then does not dominate
the pairs, and a person with few is still seen. Every function returns index arrays into the
``labels`` it was given, so the images themselves never have to be copied.
"""

from __future__ import annotations

import numpy as np

from ..errors import DatasetError


class _Members:
    """Image indices grouped by identity, for drawing images of a chosen identity at once."""

    def __init__(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise DatasetError(f"labels must be one label per image, got shape {labels.shape}")
        _, identity, self.counts = np.unique(labels, return_inverse=True, return_counts=True)
        self.order = np.argsort(identity, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.repeated = np.flatnonzero(self.counts >= 2)
        if len(self.counts) < 2:
            raise DatasetError("pairs of two people need at least two identities, "
                               f"the labels hold {len(self.counts)}")
        if len(self.repeated) == 0:
            raise DatasetError("pairs of one person need an identity with at least two "
                               "images; every identity has one")

    def pick(self, identities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random image of each of ``identities``."""
        slot = (rng.random(len(identities)) * self.counts[identities]).astype(np.int64)
        return self.order[self.starts[identities] + slot]

    def pick_two(self, identities: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Two different random images of each of ``identities`` (each has two or more)."""
        counts = self.counts[identities]
        first = (rng.random(len(identities)) * counts).astype(np.int64)
        second = (rng.random(len(identities)) * (counts - 1)).astype(np.int64)
        # Drawing from the count less one and stepping over the first gives a uniform
        # choice among the others.
        second += second >= first
        starts = self.starts[identities]
        return self.order[starts + first], self.order[starts + second]

    def other_identities(self, identities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random identity different from each of ``identities``."""
        other = rng.integers(0, len(self.counts) - 1, len(identities))
        return other + (other >= identities)


def make_pairs(labels: np.ndarray, n: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random pairs of images: (first, second, same) arrays of length ``n``.

    ``n // 2`` pairs show one person twice (two different images, ``same`` = 1.0), the
    others two different people (``same`` = 0.0), shuffled together. Raises DatasetError when
    the labels hold fewer than two identities or no identity with two images.
    """
    members = _Members(labels)
    n_same = n // 2

    same_ids = rng.choice(members.repeated, n_same)
    same_first, same_second = members.pick_two(same_ids, rng)
    first_ids = rng.integers(0, len(members.counts), n - n_same)
    other_first = members.pick(first_ids, rng)
    other_second = members.pick(members.other_identities(first_ids, rng), rng)

    first = np.concatenate([same_first, other_first])
    second = np.concatenate([same_second, other_second])
    same = np.concatenate([np.ones(n_same, np.float32), np.zeros(n - n_same, np.float32)])
    order = rng.permutation(n)
    return first[order], second[order], same[order]


def make_triplets(labels: np.ndarray, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random triplets: (anchor, positive, negative) image index arrays of length ``n``.

    The anchor and positive are two different images of one person, the negative an image of
    someone else. Raises DatasetError as ``make_pairs`` does.
    """
    members = _Members(labels)

    anchor_ids = rng.choice(members.repeated, n)
    anchor, positive = members.pick_two(anchor_ids, rng)
    negative = members.pick(members.other_identities(anchor_ids, rng), rng)
    return anchor, positive, negative
