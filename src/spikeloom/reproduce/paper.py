"""The paper's published figures (DESIGN.md, "Reference figures"); only these are compared.
Fig. 2's and Fig. 3's per-model bars are not transcribed there, so the table leaves them out."""

from __future__ import annotations

TOPOLOGIES = {
    "TOP0": (784, 32, 10),
    "TOP1": (784, 64, 32, 10),
    "TOP2": (784, 128, 64, 10),
    "TOP3": (784, 128, 64, 64, 32, 10),
    "TOP4": (784, 512, 256, 256, 128, 10),
}
CONFIGS = {"C1": (10, 0.5), "C2": (10, 1.5), "C3": (30, 0.5), "C4": (30, 1.5)}  # (T, theta)

# (dataset, figure, what) -> published value
PUBLISHED = {
    ("mnist", "energy ratio ANN/SNN", "TOP0 (best config)"): 23.36,
    ("fashion-mnist", "energy ratio ANN/SNN", "TOP0 (best config)"): 11.05,
    ("mnist", "energy ratio ANN/SNN", "TOP4 (best config)"): 7.82,
    ("fashion-mnist", "energy ratio ANN/SNN", "TOP4 (best config)"): 4.2,
    ("mnist", "energy ratio ANN/SNN", "best: TOP3 C2"): 27.81,
    ("fashion-mnist", "energy ratio ANN/SNN", "best: TOP3 C2"): 15.17,
    ("mnist", "ANN drop / SNN drop", "best over models and BERs"): 1.92,
    ("fashion-mnist", "ANN drop / SNN drop", "best over models and BERs"): 1.84,
    ("fashion-mnist", "layer-wise reliability % at BER 1e-2", "TOP3 L4 SNN (C2)"): 96.54,
    ("fashion-mnist", "layer-wise reliability % at BER 1e-2", "TOP3 L4 ANN"): 52.6,
}
