"""Face recognition accuracy with null-space LDA (Chen et al., Pattern Recognition 2000),
the recognition protocol of the paper's Table 1.

Each identity has two images: its real photo and its synthesised photo. In each of
``repeats`` random splits, ``train_fraction`` of the identities (both images) fit the
projection (PCA, then the LDA directions inside the null space of the within-class
scatter, where each identity collapses to a point); the remaining identities are
recognised by 1-nearest neighbour: queries are the real photos, the gallery their
synthesised photos. The mean accuracy over the splits is reported, with every NLDA
direction kept; ``best_accuracy`` is the literature's other figure, the best mean
accuracy over the number of directions kept (the published MATLAB evaluation toolkits
sweep the projection size and report its maximum).

The paper splits its 338 CUFS test identities into 150 for the projection and 188 to
recognise (44 %), PCA to 300 dimensions; with other numbers of identities the same
fraction is used and PCA keeps at most ``min(300, samples - 1)`` dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_TRAIN_FRACTION = 150 / 338
PAPER_PCA_DIMENSIONS = 300


@dataclass(frozen=True)
class NldaResult:
    accuracy: float  # mean over splits, in [0, 1]
    std: float
    repeats: int
    train_identities: int
    test_identities: int
    pca_dimensions: int
    best_accuracy: float  # the best mean accuracy over the number of NLDA directions
    best_dimensions: int  # how many directions gave it


def nlda_projection(
    features: np.ndarray, labels: np.ndarray, pca_dimensions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fit PCA + null-space LDA on (N, D) features; returns (mean, D x k projection)."""
    mean = features.mean(axis=0)
    centred = features - mean
    # PCA through the N x N Gram matrix: face images have far more pixels than samples.
    gram_values, gram_vectors = np.linalg.eigh(centred @ centred.T)
    order = np.argsort(gram_values)[::-1]
    gram_values, gram_vectors = gram_values[order], gram_vectors[:, order]
    rank = int(np.sum(gram_values > gram_values[0] * 1e-12)) if gram_values.size else 0
    keep = max(1, min(pca_dimensions, rank))
    pca = centred.T @ gram_vectors[:, :keep] / np.sqrt(gram_values[:keep])  # D x keep
    reduced = centred @ pca
    classes = np.unique(labels)
    within = np.zeros((keep, keep))
    class_means = []
    for label in classes:
        members = reduced[labels == label]
        centre = members.mean(axis=0)
        class_means.append(centre)
        deviation = members - centre
        within += deviation.T @ deviation
    # Null space of the within-class scatter.
    values, vectors = np.linalg.eigh(within)
    # relative to the total scatter, so identical pairs (zero within-class scatter) keep
    # the whole space as their null space
    tolerance = 1e-10 * max(float(values.max(initial=0.0)), float((reduced**2).sum()))
    null = vectors[:, values <= tolerance] if values.size else vectors
    if null.shape[1] == 0:
        raise ValueError("the within-class scatter has no null space; use fewer PCA dimensions")
    means = np.asarray(class_means) @ null  # class means inside the null space
    between = (means - means.mean(axis=0)).T @ (means - means.mean(axis=0))
    b_values, b_vectors = np.linalg.eigh(between)
    order = np.argsort(b_values)[::-1][: max(1, len(classes) - 1)]
    return mean, pca @ null @ b_vectors[:, order]


def nlda_accuracy(
    real: np.ndarray,
    synthesised: np.ndarray,
    *,
    repeats: int = 20,
    train_fraction: float = PAPER_TRAIN_FRACTION,
    pca_dimensions: int = PAPER_PCA_DIMENSIONS,
    seed: int = 0,
) -> NldaResult:
    """``real`` and ``synthesised`` are (identities, D) feature rows in the same order."""
    if real.shape != synthesised.shape or real.ndim != 2:
        raise ValueError(
            f"need two (identities, D) arrays of one shape, got {real.shape}, {synthesised.shape}"
        )
    identities = real.shape[0]
    n_train = round(identities * train_fraction)
    if n_train < 2 or identities - n_train < 2:
        raise ValueError(f"{identities} identities are too few for NLDA (2 per split side)")
    rng = np.random.default_rng(seed)
    accuracies = []
    by_dimension: list[np.ndarray] = []
    pca_used = 0
    for _ in range(repeats):
        order = rng.permutation(identities)
        train, test = order[:n_train], order[n_train:]
        features = np.concatenate([real[train], synthesised[train]])
        labels = np.concatenate([train, train])
        pca_used = min(pca_dimensions, len(features) - 1)
        mean, projection = nlda_projection(features, labels, pca_used)
        queries = (real[test] - mean) @ projection
        gallery = (synthesised[test] - mean) @ projection
        # squared distances using the first k directions, for every k at once
        partial = np.cumsum((queries[:, None, :] - gallery[None, :, :]) ** 2, axis=2)
        correct = partial.argmin(axis=1) == np.arange(len(test))[:, None]  # (queries, k)
        by_dimension.append(correct.mean(axis=0))
        accuracies.append(float(by_dimension[-1][-1]))
    shortest = min(len(row) for row in by_dimension)
    sweep = np.mean([row[:shortest] for row in by_dimension], axis=0)
    return NldaResult(
        accuracy=float(np.mean(accuracies)),
        std=float(np.std(accuracies)),
        repeats=repeats,
        train_identities=n_train,
        test_identities=identities - n_train,
        pca_dimensions=pca_used,
        best_accuracy=float(sweep.max()),
        best_dimensions=int(sweep.argmax()) + 1,
    )
