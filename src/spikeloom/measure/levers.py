"""What a reliability lever buys: the paired gain of a mitigated campaign over the same
campaign unmitigated (same seeds, same fault masks), per scope and BER, and per unit of cost."""

from __future__ import annotations

import math
from typing import Any

from spikeloom.faults import CampaignResult
from spikeloom.faults.mitigation import mitigation_cost
from spikeloom.measure.compare import compare_paired
from spikeloom.spec import ModelConfig


def lever_cost(cfg: ModelConfig, cc: Any, table: dict[str, float]) -> dict:
    """`mitigation_cost` of `cc.mitigation` against the synaptic op each weight read feeds
    (MAC for an ANN, ACC for an SNN), from `table` (pJ)."""
    op = "MAC" if cfg.arch == "ann" else "ACC"
    return mitigation_cost(cc.mitigation, cc.bits, cc.protected_bits, table, float(table[op])) | {"op": op}


def protected_energy(energy_pj: float, ops_per_sample: float, cost: dict | None) -> float:
    """pJ per sample with a lever's decode energy (`lever_cost`) added: one weight read per
    synaptic operation. `cost` None: no lever."""
    return energy_pj + ops_per_sample * cost["extra_pj_per_read"] if cost else energy_pj


def lever_gain(mitigated: CampaignResult, baseline: CampaignResult, cost: dict) -> list[dict]:
    """Per (scope, BER): reliability (%) with and without the lever, the paired difference in
    percentage points with its 95% CI, and that gain per extra stored bit and per extra pJ per
    read (None where the lever costs nothing of that kind)."""
    clean = baseline.clean_accuracy

    def rel(accs: tuple[float, ...]) -> list[float]:
        return [100.0 * a / clean if clean > 0 else math.nan for a in accs]

    rows = []
    for m in mitigated.results:
        b = baseline.result(m.scope, m.ber)
        c = compare_paired("reliability", rel(m.accuracies), rel(b.accuracies))
        bits, pj = cost["extra_bits_per_weight"], cost["extra_pj_per_read"]
        rows.append({"scope": m.scope, "ber": m.ber, "trials": m.trials,
                     "reliability_pct": m.reliability_pct, "baseline_reliability_pct": b.reliability_pct,
                     "gain_pp": c.diff, "gain_ci95": list(c.ci), "p_value": c.p_value,
                     "gain_pp_per_extra_bit": c.diff / bits if bits else None,
                     "gain_pp_per_extra_pj": c.diff / pj if pj else None})
    return rows
