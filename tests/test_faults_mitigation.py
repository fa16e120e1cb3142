"""Reliability levers: each pinned by hand on tiny weights (clamp bound, parity zeroing,
Hamming SEC correction, check-bit faults), identical trials on every engine, the CLI's
paired gain and cost."""

from __future__ import annotations

import json

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.faults import CampaignConfig, LayerFaults, run_campaign
from spikeloom.faults.bits import flip_bits
from spikeloom.faults.mitigation import hamming_check_bits, mitigate, mitigation_cost
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit

CLEAN = torch.tensor([[5, -3, 100, -60], [7, 0, -1, 2]], dtype=torch.int32)


def _one(name, faulty, rate=0.0, seed=1, k=2):
    out = mitigate(name, [LayerFaults(1, q=faulty, flipped=1)], [CLEAN], 8, "bitflip", rate, seed, (1,), k)
    return out[0].q if out else CLEAN


def _flip(row, col, bit):
    mask = torch.zeros_like(CLEAN, dtype=torch.int64)
    mask[row, col] = 1 << bit
    return flip_bits(CLEAN, mask, 8)


def test_clamp_holds_each_weight_to_the_trained_range():
    faulty = _flip(0, 0, 7)           # 5 -> 5 - 128 = -123
    faulty = faulty.clone()
    faulty[1, 1] = 127                # 0 with bits 0..6 set -> 127
    got = _one("clamp", faulty)
    assert got[0, 0] == -60 and got[1, 1] == 100   # the range bounds of the clean layer
    assert torch.equal(got[:, 2:], CLEAN[:, 2:]) and got[0, 1] == -3


def test_parity_zeroes_a_word_with_one_protected_flip_and_misses_two():
    assert _one("msb-parity", _flip(0, 2, 6))[0, 2] == 0          # MSB of 100 flipped: detected
    assert _one("msb-parity", _flip(0, 2, 7))[0, 2] == 0          # sign flipped: detected
    both = flip_bits(CLEAN, torch.tensor([[0, 0, 0b11000000, 0], [0, 0, 0, 0]]), 8)
    assert _one("msb-parity", both)[0, 2] == both[0, 2] == -92    # 0b10100100: even flips pass
    low = _flip(1, 0, 0)                                          # LSB of 7: unprotected
    assert _one("msb-parity", low)[1, 0] == 6


def test_sec_corrects_one_protected_flip_and_leaves_low_bits():
    assert hamming_check_bits(2) == 3 and hamming_check_bits(8) == 4
    assert torch.equal(_one("msb-ecc", _flip(0, 3, 7)), CLEAN)    # sign of -60 flipped: corrected
    assert torch.equal(_one("msb-ecc", _flip(1, 2, 6)), CLEAN)    # MSB of -1 flipped: corrected
    assert _one("msb-ecc", _flip(0, 0, 1))[0, 0] == 7             # bit 1 of 5 not protected
    assert torch.equal(_one("msb-ecc", _flip(0, 0, 1), k=8), CLEAN)  # whole-word SEC fixes it


def test_check_bits_are_cells_too():
    """At rate 1 every check cell flips: the parity of every word disagrees (all zeroed); with
    SEC over 2 bits (positions 1..5, data at 3 and 5), all three check bits flipped give the
    syndrome 1^2^4 = 7 > 5: detected, zeroed."""
    assert torch.equal(_one("msb-parity", CLEAN.clone(), rate=1.0), torch.zeros_like(CLEAN))
    assert torch.equal(_one("msb-ecc", CLEAN.clone(), rate=1.0), torch.zeros_like(CLEAN))
    # a layer without data faults is still read through its check bits
    out = mitigate("msb-parity", [], [CLEAN], 8, "bitflip", 1.0, 1, (1,), 2)
    assert len(out) == 1 and torch.equal(out[0].q, torch.zeros_like(CLEAN))


def test_costs_by_hand():
    table = {"ADD": 0.1, "ACC": 0.1, "MAC": 3.2}
    par = mitigation_cost("msb-parity", 8, 2, table, 0.1)
    assert par["extra_bits_per_weight"] == 1 and par["memory_overhead"] == 1 / 8
    assert par["extra_pj_per_read"] == pytest.approx(2 / 8 * 0.1)
    ecc = mitigation_cost("msb-ecc", 8, 2, table, 3.2)
    # syndrome bits cover data positions {3, 5}: bit0 {3,5}, bit1 {3}, bit2 {5} -> 4 XORs, + 2 fixes
    assert ecc["extra_bits_per_weight"] == 3 and ecc["add_equivalents_per_read"] == pytest.approx(6 / 8)
    assert mitigation_cost("clamp", 8, 2, table, 0.1)["extra_pj_per_read"] == pytest.approx(0.2)


@pytest.mark.parametrize("kwargs, needle", [
    ({"mitigation": "tmr"}, "unknown mitigation"),
    ({"mitigation": "msb-ecc", "protected_bits": 9}, "protected bits"),
    ({"mitigation": "clamp", "fault": "dead"}, "neuron fault"),
])
def test_bad_levers(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        CampaignConfig(**kwargs)


@pytest.fixture(scope="module")
def snn(digits):
    return fit(ModelConfig(topology=(64, 24, 10), timesteps=6), TrainConfig(epochs=1, seed=3, lr=1e-2),
               digits).checkpoint


@pytest.mark.parametrize("lever", ["clamp", "msb-parity", "msb-ecc"])
def test_every_engine_reads_the_same_mitigated_integers(snn, digits, lever):
    x, y = digits.x_test[:120], digits.y_test[:120]
    runs = {}
    # BER 5e-2: at 2e-2 the clamp changed no trial's accuracy (5 of 5 trials) for the model
    # this fixture trains on an Intel Xeon; it did for the one trained on AMD EPYC
    for engine in ("reference", "prefix", "delta", "auto"):
        cc = CampaignConfig(bers=(5e-2,), trials=3, engine=engine, mitigation=lever)
        runs[engine] = run_campaign(snn.build(), snn.model_config, x, y, cc, eval_seed=1)
    accs = {e: r.results[0].accuracies for e, r in runs.items()}
    assert len({tuple(a) for a in accs.values()}) == 1, accs
    base = run_campaign(snn.build(), snn.model_config, x, y,
                        CampaignConfig(bers=(5e-2,), trials=3, engine="auto"), eval_seed=1)
    assert accs["reference"] != base.results[0].accuracies  # the lever changed the trials


def test_cli_reports_paired_gain_and_cost(tmp_path, digits):
    from spikeloom.cli.main import main

    m = tmp_path / "m"
    assert main(["train", "--topology", "64-16-10", "--epochs", "1", "--timesteps", "4",
                 "--out", str(m), "--quiet"]) == 0
    out = tmp_path / "f"
    assert main(["faults", "--model", str(m / "model.pt"), "--ber", "0.02", "--trials", "3",
                 "--mitigation", "msb-ecc", "--samples", "100", "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["campaign"]["mitigation"] == "msb-ecc"
    assert s["mitigation"]["cost"]["extra_bits_per_weight"] == 3
    g = s["mitigation"]["gain"][0]
    base = s["mitigation"]["baseline"]["results"][0]["reliability_pct"]
    assert g["gain_pp"] == pytest.approx(s["results"][0]["reliability_pct"] - base)
    assert g["gain_pp_per_extra_bit"] == pytest.approx(g["gain_pp"] / 3)
    assert (out / "trials-none.jsonl").exists()
    assert main(["faults", "--model", str(m / "model.pt"), "--fault", "dead", "--mitigation", "clamp",
                 "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert not (tmp_path / "bad").exists()


def test_keep_bits_drops_hits_elsewhere():
    from spikeloom.faults.mitigation import keep_bits

    mask = torch.tensor([[0b10000001, 0, 0b01000000, 0], [0, 0, 0, 0]])
    faulty = flip_bits(CLEAN, mask, 8)
    sign = keep_bits([LayerFaults(1, q=faulty, flipped=3)], [CLEAN], 8, (7,))[0].q
    assert sign[0, 0] == 5 - 128 and sign[0, 2] == 100          # only the sign flip of 5 stays
    assert keep_bits([LayerFaults(1, q=faulty, flipped=3)], [CLEAN], 8, (1, 2)) == []
    with pytest.raises(ConfigError, match="hit bits"):
        CampaignConfig(hit_bits=(8,))
