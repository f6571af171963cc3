"""Identity metrics with a face recognizer: is the synthesised photo the person in the sketch?

Each query (a synthesised photo, or the sketch itself as the yardstick) is compared with
a gallery of real photos by the Euclidean distance of their 128-D descriptors (dlib's
face-recognition network). The gallery holds every real photo of the data set, the
training identities included as distractors, so a query is identified only if its own
person's photo is nearer than all the others.

- **Identification**: rank-1 and rank-5 rates (the own photo among the nearest 1 or 5).
- **Verification**: genuine pairs are (query, own photo); impostor pairs are (query, every
  other gallery photo). The verification rate is the share of genuine pairs under the
  recognizer's same-person threshold (0.6), reported with the false-accept rate at that
  threshold; TAR at FAR 1 % takes the threshold that admits 1 % of impostor pairs; ROC
  AUC is the probability that a genuine pair is closer than an impostor pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

SAME_PERSON_THRESHOLD = 0.6
FAR_TARGET = 0.01


@dataclass(frozen=True)
class IdentityScores:
    rank1: float
    rank5: float
    verification_rate: float  # genuine distance < threshold
    false_accept_rate: float  # impostor distance < threshold
    tar_at_far_1pct: float
    roc_auc: float
    mean_genuine_distance: float
    mean_impostor_distance: float
    queries: int
    gallery: int
    threshold: float = SAME_PERSON_THRESHOLD

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pairwise_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(Q, G) Euclidean distances between descriptor rows."""
    squared = (
        (queries**2).sum(axis=1)[:, None]
        + (gallery**2).sum(axis=1)[None, :]
        - 2 * queries @ gallery.T
    )
    return np.sqrt(np.maximum(squared, 0.0))


def identity_scores(
    queries: np.ndarray,
    gallery: np.ndarray,
    true_index: Sequence[int] | np.ndarray,
    *,
    threshold: float = SAME_PERSON_THRESHOLD,
) -> IdentityScores:
    """Scores of ``queries`` (Q, D) against ``gallery`` (G, D); query i is the person of
    gallery row ``true_index[i]``."""
    truth = np.asarray(true_index, dtype=np.int64)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"need (Q, D) and (G, D) descriptors, got {queries.shape}, {gallery.shape}"
        )
    if (
        truth.shape != (len(queries),)
        or truth.min(initial=0) < 0
        or truth.max(initial=0) >= len(gallery)
    ):
        raise ValueError("true_index needs one gallery row per query")
    if len(gallery) < 2:
        raise ValueError("the gallery needs at least two identities")
    distances = pairwise_distances(queries, gallery)
    rows = np.arange(len(queries))
    genuine = distances[rows, truth]
    # rank = how many gallery photos are strictly closer than the own one (ties count
    # against the query, so a constant descriptor cannot score)
    closer = (distances < genuine[:, None]).sum(axis=1)
    ties = (distances == genuine[:, None]).sum(axis=1) - 1
    rank = closer + ties
    impostor_mask = np.ones_like(distances, dtype=bool)
    impostor_mask[rows, truth] = False
    impostor = distances[impostor_mask]
    far_threshold = float(np.quantile(impostor, FAR_TARGET))
    return IdentityScores(
        rank1=float(np.mean(rank < 1)),
        rank5=float(np.mean(rank < 5)),
        verification_rate=float(np.mean(genuine < threshold)),
        false_accept_rate=float(np.mean(impostor < threshold)),
        tar_at_far_1pct=float(np.mean(genuine < far_threshold)),
        roc_auc=roc_auc(genuine, impostor),
        mean_genuine_distance=float(genuine.mean()),
        mean_impostor_distance=float(impostor.mean()),
        queries=len(queries),
        gallery=len(gallery),
        threshold=threshold,
    )


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """P(genuine distance < impostor distance), ties counted half (Mann-Whitney U)."""
    ranks = rankdata(np.concatenate([genuine, impostor]))
    genuine_rank_sum = ranks[: len(genuine)].sum()
    u = genuine_rank_sum - len(genuine) * (len(genuine) + 1) / 2
    # small distances mean "same person": U counts genuine > impostor, so take 1 - U/(n m)
    return float(1 - u / (len(genuine) * len(impostor)))
