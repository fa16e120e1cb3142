"""`explain_model`: every requested explanation of one model, its figures and its summary.

Pure of flags and printing, so `spikeloom explain` and the `spikeloom run` report share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spikeloom.data.protocol import eval_batches, sample_inputs
from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError, DataError
from spikeloom.explain import attribution as attr
from spikeloom.explain import faithfulness as faith
from spikeloom.explain import plots, signals
from spikeloom.explain.forward import (
    SampleForward,
    check_model,
    model_device,
    pixel_map,
    trace,
)
from spikeloom.explain.rules import RuleSet, extract_rules, fidelity_by_depth
from spikeloom.io import atomic_write_text, prepare_out_dir
from spikeloom.snn.models import LIF, SpikingMLP
from spikeloom.spec import ModelConfig, Spec

SIGNAL_METHODS = ("raster", "psth", "membrane", "heatmap", "embedding")
ATTRIBUTION_METHODS = ("saliency", "ig", "sam", "occlusion")
METHODS = (*SIGNAL_METHODS, *ATTRIBUTION_METHODS, "ablation", "rules")
SNN_ONLY = frozenset({*SIGNAL_METHODS, "sam", "rules"})
DEFAULT_METHODS = METHODS
SPLITS = ("test", "train")


@dataclass(frozen=True)
class ExplainOptions(Spec):
    """Knobs of `explain_model` (defaults suit digits and 784-128-64-10 alike).

    split: split the sample indices refer to. profile_samples: first test samples used for
    PSTH, rate heatmap, embedding, neuron ablation and as the rules' held-out set.
    rules_fit_samples: first train samples the rule tree is fitted on. rules_layer: 1-based
    layer whose spike counts feed the tree (default: last hidden layer). target: explain the
    'predicted' class or the true 'label'. deletion_unit: 'pixel' or 'bin' (input time bin).
    """

    split: str = "test"
    target: str = "predicted"
    profile_samples: int = 500
    rules_fit_samples: int = 1000
    rules_depth: int = 8
    rules_layer: int | None = None
    ig_steps: int = 32
    sam_gamma: float = 0.4
    occlusion_window: int | None = None
    membrane_layer: int = 1
    membrane_neurons: int = 4
    embedding: str = "pca"
    deletion_unit: str = "pixel"
    deletion_steps: int = 20
    deletion_score: str = "prob"
    random_repeats: int = 5
    ablation_top: int = 20

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"unknown split {self.split!r}; choose one of {', '.join(SPLITS)}")
        if self.target not in ("predicted", "label"):
            raise ConfigError(f"unknown target {self.target!r}; choose 'predicted' or 'label'")
        for name in ("profile_samples", "rules_fit_samples", "rules_depth", "ig_steps",
                     "membrane_neurons", "deletion_steps", "random_repeats", "ablation_top"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")
        if self.embedding not in signals.EMBEDDINGS:
            raise ConfigError(f"unknown embedding {self.embedding!r}; choose pca or tsne")
        if self.deletion_unit not in faith.UNITS:
            raise ConfigError(f"unknown deletion unit {self.deletion_unit!r}; choose pixel or bin")
        if self.deletion_score not in faith.SCORES:
            raise ConfigError(f"unknown deletion score {self.deletion_score!r}; choose prob or logit")


@dataclass(frozen=True)
class ExplainResult:
    """What `explain_model` found. `methods[name]` holds that method's figures and files;
    `faithfulness[name]` the mean deletion/insertion curves (with 'random'); `figures` maps a
    figure name (e.g. 'raster_s0', 'faithfulness') to its PNG."""

    model: str
    model_config: ModelConfig
    dataset: str
    split: str
    samples: tuple[int, ...]
    seed: int
    options: ExplainOptions
    predictions: tuple[dict[str, Any], ...]
    methods: Mapping[str, dict[str, Any]]
    faithfulness: Mapping[str, faith.Faithfulness]
    rules: RuleSet | None
    figures: Mapping[str, Path]
    seconds: Mapping[str, float] = field(default_factory=dict)
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The summary.json shape: `methods.<name>` its files and figures (deletion/insertion
        AUC for attributions); `faithfulness.methods` the AUCs of every method and 'random';
        `rules` fidelity, depth and text (None without the rules method)."""
        fa = {name: f.to_dict() for name, f in self.faithfulness.items()}
        return {
            "model": self.model, "model_config": self.model_config.to_dict(),
            "dataset": self.dataset, "split": self.split, "samples": list(self.samples),
            "seed": self.seed, "options": self.options.to_dict(),
            "predictions": list(self.predictions),
            "methods": {name: dict(entry) for name, entry in self.methods.items()},
            "faithfulness": {
                "unit": self.options.deletion_unit, "score": self.options.deletion_score,
                "steps": self.options.deletion_steps,
                "methods": {name: {k: f[k] for k in ("deletion_auc", "insertion_auc")}
                            for name, f in fa.items()},
                "curves": fa},
            "random": {k: fa["random"][k] for k in ("deletion_auc", "insertion_auc")}
            if "random" in fa else None,
            "rules": None if self.rules is None else self.rules.to_dict() | {"text": self.rules.text},
            "figures": {name: str(p) for name, p in self.figures.items()},
            "seconds": dict(self.seconds), "total_seconds": sum(self.seconds.values()),
            "cpu_seconds": dict(self.cpu_seconds),
            "total_cpu_seconds": sum(self.cpu_seconds.values()),
        }


def parse_methods(text: str | Sequence[str]) -> tuple[str, ...]:
    """'saliency,ig' or ['saliency', 'ig'] or 'all' -> validated method names, in order."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:
        return METHODS
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise ConfigError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose from {','.join(METHODS)} or 'all'")
    return tuple(dict.fromkeys(names))


def check_request(model: nn.Module, dataset: Dataset, samples: Sequence[int],
                  methods: Sequence[str], split: str = "test") -> None:
    """Raise a one-line `SpikeloomError` for bad samples, methods or model kind."""
    check_model(model)
    parse_methods(list(methods))
    if not isinstance(model, SpikingMLP):
        snn_only = [m for m in methods if m in SNN_ONLY]
        if snn_only:
            raise ConfigError(f"method(s) {','.join(snn_only)} need a spiking model, but this "
                              "checkpoint is an ANN; give an SNN checkpoint or use only "
                              f"{','.join(m for m in METHODS if m not in SNN_ONLY)}")
    size = len(dataset.y_test if split == "test" else dataset.y_train)
    if not samples:
        raise DataError("no sample to explain; give at least one index with --samples")
    bad = [s for s in samples if not 0 <= int(s) < size]
    if bad:
        raise DataError(f"sample index {bad[0]} is outside the {split} split of {dataset.name} "
                        f"(valid: 0..{size - 1}); choose indices in that range")
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    if first.in_features != dataset.input_size:
        raise DataError(f"model input size {first.in_features} does not match dataset "
                        f"{dataset.name} ({dataset.input_size} features); give the dataset it "
                        "was trained on")


def _layer_names(model: SpikingMLP) -> list[str]:
    count = len(model.fcs)
    return [f"layer {i + 1} ({'output' if i == count - 1 else 'hidden'}, "
            f"{model.fcs[i].out_features} neurons)"
            for i, m in enumerate(model.lifs) if isinstance(m, LIF)]


def _profile_inputs(cfg: ModelConfig, x: torch.Tensor, seed: int, device: torch.device
                    ) -> torch.Tensor:
    """Model inputs of x with the deterministic evaluation encoding, concatenated on batch."""
    parts = [inputs for _, inputs in eval_batches(cfg, x, seed, device)]
    return torch.cat(parts, dim=1 if cfg.arch == "snn" else 0)


class _Timer:
    """Wall-clock and process CPU seconds per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return fn()
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


@dataclass
class _Run:
    """What every explanation method of one `explain_model` call reads, and where they write.

    inputs: the explained samples' model inputs ([n, T, D] for an SNN, [n, D] for an ANN);
    targets: the class explained per sample; x_prof/y_prof: the profile set (first test
    samples); activity: its recorded spikes (None unless a method needs them); names: labels of
    the spiking layers; hidden: 1-based hidden spiking layers; entries[method]: its summary
    entry (with 'files'); figures: figure name -> PNG."""

    model: nn.Module
    cfg: ModelConfig
    dataset: Dataset
    opts: ExplainOptions
    out: Path
    seed: int
    samples: tuple[int, ...]
    xs: torch.Tensor
    inputs: torch.Tensor
    labels: torch.Tensor
    predicted: torch.Tensor
    targets: torch.Tensor
    forward: SampleForward
    x_prof: torch.Tensor
    y_prof: torch.Tensor
    activity: signals.Activity | None
    names: list[str]
    hidden: list[int]
    entries: dict[str, dict[str, Any]]
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def spiking(self) -> bool:
        return isinstance(self.model, SpikingMLP)

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in range(self.dataset.num_classes)]

    def add_figure(self, method: str, name: str, path: Path) -> None:
        self.figures[name] = path
        self.entries[method]["files"].append(path.name)


def explain_model(model: nn.Module, model_config: ModelConfig, dataset: Dataset,
                  samples: Sequence[int] = (0,), methods: Sequence[str] = DEFAULT_METHODS,
                  out_dir: str | Path = Path("explain"), seed: int = 0,
                  options: ExplainOptions | None = None) -> ExplainResult:
    """Explain `model` on `samples` (indices into the options.split of `dataset`) with
    `methods`; write one PNG per figure (and rules.txt) into `out_dir`.

    Attribution methods also get deletion/insertion curves against a random ordering. The
    same seed gives the same encodings, orderings and numbers. Does not write summary.json.
    """
    opts = options or ExplainOptions()
    methods = parse_methods(list(methods))
    samples = tuple(int(s) for s in samples)
    check_request(model, dataset, samples, methods, opts.split)
    out = prepare_out_dir(out_dir)
    model.eval()
    device = model_device(model)
    spiking = isinstance(model, SpikingMLP)
    timer = _Timer()

    # STEP 1: the explained samples receive exactly the spikes every evaluation gives them.
    xs = dataset.x_test if opts.split == "test" else dataset.x_train
    ys = dataset.y_test if opts.split == "test" else dataset.y_train
    inputs = sample_inputs(model_config, xs, list(samples), seed, device)
    if model_config.arch == "snn":
        inputs = inputs.transpose(0, 1).contiguous()  # [n, T, D], one sample per row
    forward = SampleForward(model)
    with torch.no_grad():
        logits = forward(inputs)
    predicted = logits.argmax(1)
    labels = ys[list(samples)].to(device)
    targets = predicted if opts.target == "predicted" else labels
    predictions = tuple({"sample": s, "label": int(labels[k]), "predicted": int(predicted[k]),
                         "target": int(targets[k]), "logits": logits[k].tolist()}
                        for k, s in enumerate(samples))

    # STEP 2: activity over the profile set (PSTH, heatmap, embedding, rules).
    n_prof = min(opts.profile_samples, len(dataset.y_test))
    x_prof, y_prof = dataset.x_test[:n_prof], dataset.y_test[:n_prof]
    needs_activity = spiking and any(m in methods for m in ("psth", "heatmap", "embedding", "rules"))
    activity = timer("activity", lambda: signals.record_activity(
        model, model_config, x_prof, y_prof, seed)) if needs_activity else None
    hidden = [i + 1 for i, m in enumerate(model.lifs) if isinstance(m, LIF)
              and i < len(model.fcs) - 1] if spiking else []
    run = _Run(model, model_config, dataset, opts, out, seed, samples, xs, inputs, labels, predicted,
               targets, forward, x_prof, y_prof, activity, _layer_names(model) if spiking else [],
               hidden, {m: {"files": []} for m in methods})

    # STEP 3: the signal figures, in the order of METHODS.
    for name in SIGNAL_METHODS:
        if name in methods:
            timer(name, lambda name=name: _SIGNALS[name](run))

    # STEP 4: attributions, their faithfulness against a random ordering, their figures.
    attributions = {name: timer(name, lambda name=name: _attribute(run, name)).detach()
                    for name in ATTRIBUTION_METHODS if name in methods}
    faithful: dict[str, faith.Faithfulness] = {}
    if attributions:
        faithful = timer("faithfulness", lambda: _faithfulness(run, attributions))
        timer("attribution_figures", lambda: _attribution_figures(run, attributions, faithful))

    # STEP 5: neuron ablation and the rule tree.
    if "ablation" in methods:
        timer("ablation", lambda: _ablation(run))
    rules = timer("rules", lambda: _rules(run)) if "rules" in methods else None

    return ExplainResult(model=model_config.name, model_config=model_config, dataset=dataset.name,
                         split=opts.split, samples=samples, seed=seed, options=opts,
                         predictions=predictions, methods=run.entries, faithfulness=faithful,
                         rules=rules, figures=run.figures, seconds=timer.seconds,
                         cpu_seconds=timer.cpu)


def _raster(run: _Run) -> None:
    for k, s in enumerate(run.samples):
        rec = trace(run.model, run.inputs[k][:, None])
        trains = [run.inputs[k].cpu().numpy()] + [
            sp[:, 0].cpu().numpy() for sp, m in zip(rec.spikes, run.model.lifs) if isinstance(m, LIF)]
        title = (f"Spike raster, {run.dataset.name} {run.opts.split} sample {s} "
                 f"(label {int(run.labels[k])}, predicted {int(run.predicted[k])})")
        run.add_figure("raster", f"raster_s{s}", plots.raster_figure(
            trains, [f"input ({run.inputs.shape[-1]} {run.cfg.encoding}-coded)", *run.names],
            title, run.out / f"raster_s{s}.png"))


def _psth(run: _Run) -> None:
    hists = {name: signals.psth(run.activity, i + 1, run.dataset.num_classes).numpy()
             for i, name in enumerate(run.names)}
    run.add_figure("psth", "psth", plots.psth_figure(hists, run.class_names, len(run.y_prof),
                                                     run.out / "psth.png"))
    run.entries["psth"]["profile_samples"] = len(run.y_prof)


def _membrane(run: _Run) -> None:
    opts = run.opts
    for k, s in enumerate(run.samples):
        mem = signals.membrane(run.model, run.inputs[k], opts.membrane_layer, count=opts.membrane_neurons)
        run.entries["membrane"].setdefault("neurons", {})[str(s)] = list(mem.neurons)
        title = (f"Membrane potential, layer {mem.layer}, {run.dataset.name} sample {s} "
                 f"(neurons across the activity ranking)")
        run.add_figure("membrane", f"membrane_s{s}", plots.membrane_figure(
            mem.potential, mem.spikes, mem.neurons, mem.threshold, mem.layer, title,
            run.out / f"membrane_s{s}.png"))


def _heatmap(run: _Run) -> None:
    maps = {name: signals.rate_map(run.activity, i + 1).numpy() for i, name in enumerate(run.names)}
    run.entries["heatmap"]["mean_rate"] = {name: float(m.mean()) for name, m in maps.items()}
    run.add_figure("heatmap", "rates", plots.rate_heatmap_figure(maps, run.out / "rates.png"))


def _embedding(run: _Run) -> None:
    classes = run.dataset.num_classes
    for layer in run.hidden:
        emb = signals.embed_neurons(run.activity, layer, classes, run.opts.embedding, run.seed)
        axes = (("PC1", "PC2") if emb.explained is None and emb.method == "pca" else
                (f"PC1 ({100 * emb.explained[0]:.0f}% variance)",
                 f"PC2 ({100 * emb.explained[1]:.0f}% variance)")
                if emb.explained else ("t-SNE 1 (a.u.)", "t-SNE 2 (a.u.)"))
        title = (f"Layer {layer} neurons by spike-count vectors over {len(run.y_prof)} samples "
                 f"({emb.method.upper()})\ncolour: preferred class, size: selectivity")
        run.add_figure("embedding", f"embedding_L{layer}", plots.embedding_figure(
            emb.coords, emb.preferred, emb.selectivity, run.class_names, axes, title,
            run.out / f"embedding_L{layer}.png"))
        run.entries["embedding"][f"layer{layer}"] = {
            "method": emb.method, "mean_selectivity": float(emb.selectivity.mean()),
            "silent_neurons": int((emb.preferred < 0).sum()),
            "preferred_class_counts": np.bincount(emb.preferred[emb.preferred >= 0],
                                                  minlength=classes).tolist()}


_SIGNALS: dict[str, Callable[[_Run], None]] = {
    "raster": _raster, "psth": _psth, "membrane": _membrane, "heatmap": _heatmap, "embedding": _embedding}


def _attribute(run: _Run, name: str) -> torch.Tensor:
    """Attribution `name` of every explained sample to its target class, shaped like inputs."""
    model, inputs, targets, opts = run.model, run.inputs, run.targets, run.opts
    if name == "saliency":
        return attr.Saliency(model).attribute(inputs, targets)
    if name == "ig":
        values, delta = attr.IntegratedGradients(model, n_steps=opts.ig_steps).attribute(
            inputs, targets, return_convergence_delta=True)
        run.entries["ig"]["convergence_delta"] = [float(d) for d in delta]
        run.entries["ig"]["n_steps"] = opts.ig_steps
        return values
    if name == "sam":
        return attr.SpikeActivationMap(model, opts.sam_gamma).attribute(inputs, targets)
    return attr.Occlusion(model, opts.occlusion_window).attribute(inputs, targets)


def _faithfulness(run: _Run, attributions: dict[str, torch.Tensor]) -> dict[str, faith.Faithfulness]:
    """Mean deletion/insertion curves per method and for a random ordering; per-sample AUCs
    into the methods' entries. Temporal attributions only when the unit is the pixel or they
    have the inputs' shape."""
    opts, inputs, targets, n = run.opts, run.inputs, run.targets, len(run.samples)
    unit = opts.deletion_unit
    runs: dict[str, list[faith.Faithfulness]] = {}
    for name, values in attributions.items():
        if unit == "pixel" or values.shape == inputs.shape:
            runs[name] = [faith.curves(run.forward, inputs[k], int(targets[k]),
                                       faith.ranking(values[k], inputs[k], unit), unit,
                                       opts.deletion_steps, opts.deletion_score, method=name)
                          for k in range(n)]
    runs["random"] = [faith.random_baseline(
        run.forward, inputs[k], int(targets[k]), unit, opts.deletion_steps, opts.deletion_score,
        opts.random_repeats, run.seed + k) for k in range(n)]
    faithful = {}
    for name, per_sample in runs.items():
        faithful[name] = f = faith.mean_faithfulness(name, per_sample)
        if name in run.entries:
            run.entries[name].update({
                "deletion_auc": f.deletion.auc, "insertion_auc": f.insertion.auc,
                "deletion_auc_per_sample": [r.deletion.auc for r in per_sample],
                "insertion_auc_per_sample": [r.insertion.auc for r in per_sample]})
    return faithful


def _attribution_figures(run: _Run, attributions: dict[str, torch.Tensor],
                         faithful: dict[str, faith.Faithfulness]) -> None:
    """One figure per sample with every method's map, and the faithfulness curves; both files
    listed under every attribution method."""
    def shared(name: str, path: Path) -> None:
        run.figures[name] = path
        for method in attributions:
            run.entries[method]["files"].append(path.name)

    for k, s in enumerate(run.samples):
        maps = {n: pixel_map(a[k], run.spiking).cpu().numpy() for n, a in attributions.items()}
        temporal = {n: a[k].sum(-1).cpu().numpy() for n, a in attributions.items()
                    if run.spiking and a.shape == run.inputs.shape}
        title = (f"Attributions for class {int(run.targets[k])}, {run.dataset.name} sample {s} "
                 f"(label {int(run.labels[k])})")
        shared(f"attributions_s{s}", plots.attribution_figure(
            run.xs[s].numpy(), maps, temporal, title, run.out / f"attributions_s{s}.png"))
    curves = {n: (np.array(f.deletion.fractions), np.array(f.deletion.scores),
                  np.array(f.insertion.scores), f.deletion.auc, f.insertion.auc)
              for n, f in faithful.items()}
    shared("faithfulness", plots.faithfulness_figure(curves, run.opts.deletion_unit,
                                                     run.opts.deletion_score, run.out / "faithfulness.png"))


def _ablation(run: _Run) -> None:
    device = model_device(run.model)
    x_seq = _profile_inputs(run.cfg, run.x_prof.to(device), run.seed, device)
    drops = attr.NeuronAblation(run.model).attribute(x_seq, run.y_prof)
    per_layer = {}
    for i, drop in enumerate(drops):
        order = torch.sort(drop, descending=True, stable=True).indices[:run.opts.ablation_top]
        per_layer[f"layer{i + 1}"] = {
            "mean_drop": float(drop.mean()), "max_drop": float(drop.max()),
            "top_neurons": [int(j) for j in order], "top_drops": [float(drop[j]) for j in order]}
    run.entries["ablation"].update({"samples": len(run.y_prof), "layers": per_layer})
    draw = {f"layer {i + 1} ({len(d)} neurons)": d.numpy() for i, d in enumerate(drops)}
    run.add_figure("ablation", "ablation", plots.ablation_figure(draw, run.opts.ablation_top,
                                                                 run.out / "ablation.png"))


def _rules(run: _Run) -> RuleSet:
    model, cfg, dataset, opts, seed = run.model, run.cfg, run.dataset, run.opts, run.seed
    activity, hidden, entries = run.activity, run.hidden, run.entries
    if not hidden:
        raise ConfigError("rule extraction needs a hidden spiking layer; this model has none")
    layer = hidden[-1] if opts.rules_layer is None else opts.rules_layer
    if layer not in hidden:
        raise ConfigError(f"rules layer {layer} is not a hidden layer; choose one of {hidden}")
    n_fit = min(opts.rules_fit_samples, len(dataset.y_train))
    fit_act = signals.record_activity(model, cfg, dataset.x_train[:n_fit], dataset.y_train[:n_fit],
                                      seed + 1)
    args = (fit_act.counts(layer), fit_act.predictions, activity.counts(layer), activity.predictions)
    rules = extract_rules(*args, layer=layer, max_depth=opts.rules_depth,
                          labels_test=activity.labels, seed=seed)
    depths = list(range(1, max(opts.rules_depth, 10) + 1))
    curve = fidelity_by_depth(*args, depths=depths, seed=seed)
    entries["rules"].update(rules.to_dict())
    entries["rules"]["fidelity_by_depth"] = dict(zip((str(d) for d in depths), curve))
    entries["rules"]["snn_accuracy"] = float((activity.predictions == activity.labels)
                                             .float().mean())
    atomic_write_text(run.out / "rules.txt", f"# decision tree imitating {cfg.name}: features are "
                      f"spike counts of layer {layer} neurons over {cfg.timesteps} timesteps\n"
                      f"# fidelity {rules.fidelity:.4f} on {rules.test_samples} held-out test "
                      f"samples, depth {rules.depth}, {rules.leaves} leaves\n" + rules.text)
    entries["rules"]["files"].append("rules.txt")
    run.add_figure("rules", "rules", plots.rules_figure(depths, curve, opts.rules_depth, layer,
                                                        run.out / "rules.png"))
    return rules
