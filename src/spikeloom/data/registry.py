"""Dataset registry: the embedded `digits` and IDX-backed `mnist` / `fashion-mnist`.

All datasets come back as flat float32 images in [0, 1], shape [N, D], with int64 labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spikeloom.data.idx import read_idx
from spikeloom.errors import DataError

DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
               "mnist": Path("/usr/share/datasets/mnist")}
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
# Sub-folders tried under each root, so torchvision's layout (root/FashionMNIST/raw) works too.
_SUBDIRS = {"mnist": ("", "mnist", "MNIST/raw", "MNIST"),
            "fashion-mnist": ("", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST")}
_HOW_TO_GET = {
    "mnist": "put the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) in one of them "
             "or pass --data-dir",
    "fashion-mnist": "run 'apt-get install dataset-fashion-mnist', or put the four IDX files "
                     "in one of them, or pass --data-dir",
}
DATASETS = ("digits", "mnist", "fashion-mnist")


@dataclass(frozen=True)
class Dataset:
    """A classification dataset split into train and held-out parts. x: [N, D] float32 in [0, 1].

    held_out names what x_test / y_test hold: 'test' for a dataset as loaded, 'validation'
    for the selection split carved from the training data (`spikeloom.measure.splits`)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str
    held_out: str = "test"

    @property
    def input_size(self) -> int:
        return int(self.x_train.shape[1])


def _roots(data_dir: str | os.PathLike[str] | None, name: str) -> list[Path]:
    roots = []
    if data_dir:
        roots.append(Path(data_dir))
    if os.environ.get("SPIKELOOM_DATA"):
        roots.append(Path(os.environ["SPIKELOOM_DATA"]))
    if name in DEBIAN_DIRS:
        roots.append(DEBIAN_DIRS[name])
    return roots


def _candidates(data_dir: str | os.PathLike[str] | None, name: str) -> list[Path]:
    return [root / sub if sub else root for root in _roots(data_dir, name) for sub in _SUBDIRS[name]]


def _find_file(folder: Path, stem: str) -> Path | None:
    for suffix in (".gz", ""):
        for candidate in (folder / (stem + suffix), folder / (stem.replace("-idx", ".idx") + suffix)):
            if candidate.is_file():
                return candidate
    return None


def locate_idx(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path] | None:
    """Paths of the four IDX files of `name` in the first folder holding all of them, or None."""
    for folder in _candidates(data_dir, name):
        found = {key: _find_file(folder, stem) for key, stem in IDX_FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def _torchvision_download(name: str, data_dir: str | os.PathLike[str] | None) -> dict[str, Path] | None:
    """Try torchvision's download (needs torchvision and a network); None on any failure."""
    try:
        import torchvision.datasets as tvd  # noqa: PLC0415 - optional, slow import
    except Exception:
        return None
    root = Path(data_dir or os.environ.get("SPIKELOOM_DATA") or Path.home() / ".cache" / "spikeloom")
    cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
    try:
        cls(str(root), train=True, download=True)
        cls(str(root), train=False, download=True)
    except Exception:
        return None
    return locate_idx(name, root)


def _load_idx(name: str, data_dir: str | os.PathLike[str] | None) -> Dataset:
    files = locate_idx(name, data_dir) or _torchvision_download(name, data_dir)
    if files is None:
        looked = ", ".join(str(p) for p in _candidates(data_dir, name)) or "(no folder given)"
        raise DataError(f"dataset {name!r} not found; looked in {looked}; {_HOW_TO_GET[name]}")
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{name} {split} images {x.shape} and labels {y.shape} do not match; "
                            f"check the files in {files[f'{split}_x'].parent}")

    def flat(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0)

    y_train = torch.from_numpy(arrays["train_y"].astype(np.int64))
    y_test = torch.from_numpy(arrays["test_y"].astype(np.int64))
    return Dataset(name, flat(arrays["train_x"]), y_train, flat(arrays["test_x"]), y_test,
                   num_classes=int(max(y_train.max(), y_test.max())) + 1,
                   source=str(files["train_x"].parent))


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    # Fixed split: 80 % train / 20 % test, stratified, random_state 0 (1,437 / 360 samples).
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return Dataset("digits", torch.from_numpy(x_tr), torch.from_numpy(y_tr),
                   torch.from_numpy(x_te), torch.from_numpy(y_te), num_classes=10,
                   source="scikit-learn bundled load_digits (8x8, 1,797 samples)")


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load a registered dataset by name ('digits', 'mnist', 'fashion-mnist')."""
    key = name.lower().replace("_", "-")
    if key == "fashionmnist":
        key = "fashion-mnist"
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if key == "digits":
        return _load_digits()
    return _load_idx(key, data_dir)


def dataset_status(data_dir: str | os.PathLike[str] | None = None) -> list[dict[str, str | bool]]:
    """For each registered dataset: whether it is available and where from (no loading)."""
    rows: list[dict[str, str | bool]] = [
        {"name": "digits", "available": True, "where": "embedded (scikit-learn load_digits)"}]
    for name in ("mnist", "fashion-mnist"):
        files = locate_idx(name, data_dir)
        if files:
            rows.append({"name": name, "available": True, "where": str(files["train_x"].parent)})
        else:
            looked = ", ".join(str(p) for p in _roots(data_dir, name)) or "no folder"
            rows.append({"name": name, "available": False,
                         "where": f"not found (looked in {looked}); {_HOW_TO_GET[name]}"})
    return rows
