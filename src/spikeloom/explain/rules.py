"""Behaviour space: a decision tree that imitates the SNN from the spike counts of one layer.

The tree is fitted to the SNN's *own predictions* (not the true labels) from per-neuron
spike counts, so its rules describe what the network does. Fidelity is the fraction of
held-out samples on which tree and SNN agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from spikeloom.errors import ConfigError


@dataclass(frozen=True)
class RuleSet:
    """A fitted rule tree and how well it imitates the SNN.

    layer: 1-based layer whose counts are the features; max_depth: depth allowed; depth:
    depth reached; fidelity: agreement with the SNN on held-out samples in [0, 1];
    train_fidelity: the same on the fitting samples; accuracy: tree vs true labels on the
    held-out samples; leaves: number of rules; text: the rules, one line per node.
    """

    layer: int
    max_depth: int
    depth: int
    leaves: int
    fidelity: float
    train_fidelity: float
    accuracy: float | None
    fit_samples: int
    test_samples: int
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"layer": self.layer, "max_depth": self.max_depth, "depth": self.depth,
                "leaves": self.leaves, "fidelity": self.fidelity,
                "train_fidelity": self.train_fidelity, "accuracy": self.accuracy,
                "fit_samples": self.fit_samples, "test_samples": self.test_samples}


def _array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def fit_tree(counts: np.ndarray, predictions: np.ndarray, max_depth: int, seed: int = 0):
    """A scikit-learn DecisionTreeClassifier fitted to (counts [n, N], predictions [n])."""
    if max_depth < 1:
        raise ConfigError(f"rule depth must be >= 1, got {max_depth}")
    from sklearn.tree import DecisionTreeClassifier  # noqa: PLC0415

    return DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(counts, predictions)


def extract_rules(counts_fit: torch.Tensor | np.ndarray, predictions_fit: torch.Tensor | np.ndarray,
                  counts_test: torch.Tensor | np.ndarray, predictions_test: torch.Tensor | np.ndarray,
                  layer: int, max_depth: int = 8, labels_test: torch.Tensor | np.ndarray | None = None,
                  class_names: Sequence[str] | None = None, seed: int = 0) -> RuleSet:
    """Fit the rule tree on (counts_fit [n, N], SNN predictions [n]) and measure it on the
    held-out (counts_test, predictions_test). Features are named 'L{layer}n{i}' (spike count of
    neuron i of that layer over the T timesteps)."""
    from sklearn.tree import export_text  # noqa: PLC0415

    xf, pf, xt, pt = (_array(a) for a in (counts_fit, predictions_fit, counts_test, predictions_test))
    if len(xf) == 0 or len(xt) == 0:
        raise ConfigError("rule extraction needs samples to fit and to test on; use more samples")
    tree = fit_tree(xf, pf, max_depth, seed)
    tree_test = tree.predict(xt)
    names = [f"L{layer}n{i}" for i in range(xf.shape[1])]
    classes = [str(class_names[int(c)]) if class_names else str(int(c)) for c in tree.classes_]
    text = export_text(tree, feature_names=names, class_names=classes, show_weights=False,
                       max_depth=max_depth)
    accuracy = None if labels_test is None else float(np.mean(tree_test == _array(labels_test)))
    return RuleSet(layer=layer, max_depth=max_depth, depth=int(tree.get_depth()),
                   leaves=int(tree.get_n_leaves()), fidelity=float(np.mean(tree_test == pt)),
                   train_fidelity=float(np.mean(tree.predict(xf) == pf)), accuracy=accuracy,
                   fit_samples=len(xf), test_samples=len(xt), text=text)


def fidelity_by_depth(counts_fit: torch.Tensor | np.ndarray, predictions_fit: torch.Tensor | np.ndarray,
                      counts_test: torch.Tensor | np.ndarray, predictions_test: torch.Tensor | np.ndarray,
                      depths: Sequence[int], seed: int = 0) -> list[float]:
    """Held-out fidelity of trees of each depth in `depths` (for the depth-control curve)."""
    xf, pf, xt, pt = (_array(a) for a in (counts_fit, predictions_fit, counts_test, predictions_test))
    return [float(np.mean(fit_tree(xf, pf, d, seed).predict(xt) == pt)) for d in depths]
