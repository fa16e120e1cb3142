"""Reliability levers applied where a trial's faulty integers are formed, so every engine
(reference, prefix, delta, compiled) reads the same mitigated weights.

none        the faulty word is read as stored.
clamp       range restriction: each faulty weight is clamped to its layer's fault-free integer
            range [min q, max q] (two registers per layer, a protected-memory read).
msb-parity  one parity bit per word over its `protected_bits` most significant bits (sign
            first); a read whose parity disagrees is zeroed (detected, not corrected).
msb-ecc     a Hamming single-error-correcting code over the `protected_bits` most significant
            bits (r check bits with 2^r >= protected_bits + r + 1): one flip among those bits
            and their check bits is corrected; a syndrome that names no position zeroes the
            word; two or more flips may be miscorrected, as real SEC decoding does.
            `protected_bits` = the bit width is whole-word SEC.

The check bits are memory cells too: they suffer the trial's fault model at the same rate,
drawn from a stream of their own (`derive_seed(trial seed, CHECK_STREAM)`, per layer), so the
data-bit masks - and the pairing with unmitigated and ANN/SNN campaigns - are unchanged.

Costs (`mitigation_cost`): extra stored bits per weight, and the decode logic per weight read
in ADD-equivalents of the energy table (an n-bit adder is n full adders, each at least one
XOR, so one 1-bit XOR is counted as ADD / n; an n-bit comparison is one ADD).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from spikeloom.errors import ConfigError
from spikeloom.faults.bits import bit_mask, flip_bits, from_code, stuck_at, to_code
from spikeloom.faults.injection import WEIGHT_FAULTS, LayerFaults, _hits, derive_seed
from spikeloom.spec import MITIGATIONS

CHECK_STREAM = 0x5EC0DE  # tag of the check-bit fault stream


def check_mitigation(name: str, protected_bits: int, bits: int, fault: str) -> str:
    """`ConfigError` for an unknown lever, a protected width outside 1..bits, or a neuron fault."""
    if name not in MITIGATIONS:
        raise ConfigError(f"unknown mitigation {name!r}; choose one of {', '.join(MITIGATIONS)}")
    if name in ("msb-parity", "msb-ecc") and not 1 <= int(protected_bits) <= bits:
        raise ConfigError(f"protected bits must be in 1..{bits} (the weight width), got {protected_bits}")
    if name != "none" and fault not in WEIGHT_FAULTS:
        raise ConfigError(f"mitigation {name!r} protects stored weights; {fault!r} is a neuron "
                          "fault (use --fault bitflip, stuck-at-0 or stuck-at-1, or --mitigation none)")
    return name


def hamming_check_bits(k: int) -> int:
    """Check bits r of a Hamming SEC code over k data bits (smallest r with 2^r >= k + r + 1)."""
    r = 0
    while (1 << r) < k + r + 1:
        r += 1
    return r


def _data_positions(k: int, r: int) -> list[int]:
    """1-based codeword positions of the k data bits (the non-powers of two), in order."""
    return [p for p in range(1, k + r + 1) if p & (p - 1)][:k]


def extra_bits(name: str, protected_bits: int) -> int:
    """Stored bits a lever adds to every weight."""
    return {"msb-parity": 1, "msb-ecc": hamming_check_bits(protected_bits)}.get(name, 0)


def mitigation_cost(name: str, bits: int, protected_bits: int, table: dict[str, float],
                    op_pj: float) -> dict:
    """Cost of a lever per weight: extra bits (and the share of the word), decode logic per read
    in ADD-equivalents and pJ (`table['ADD']`), and that energy as a share of `op_pj` (the
    synaptic operation each read feeds: MAC for an ANN, ACC for an SNN)."""
    k = int(protected_bits)
    if name == "clamp":
        adds = 2.0  # two n-bit comparisons against the layer's bounds
    elif name == "msb-parity":
        adds = k / bits  # k XORs (k - 1 for the data, one against the stored parity)
    elif name == "msb-ecc":
        r = hamming_check_bits(k)
        pos = _data_positions(k, r)
        xors = sum(sum(1 for p in pos if p >> i & 1) for i in range(r))  # syndrome: check ^ data
        adds = (xors + k) / bits  # + one correcting XOR per data bit
    else:
        adds = 0.0
    extra = extra_bits(name, k)
    pj = adds * float(table.get("ADD", table["ACC"]))  # a user table may price ACC only
    return {"name": name, "protected_bits": k if name in ("msb-parity", "msb-ecc") else 0,
            "extra_bits_per_weight": extra, "memory_overhead": extra / bits,
            "add_equivalents_per_read": adds, "extra_pj_per_read": pj,
            "energy_overhead": pj / op_pj if op_pj > 0 else math.nan,
            "extra_bits_per_layer": 2 * bits if name == "clamp" else 0}


def _bits_of(code: torch.Tensor, lo: int, count: int) -> torch.Tensor:
    """Bits lo..lo+count-1 of int64 codes -> [..., count] (0/1 int64)."""
    return (code.unsqueeze(-1) >> torch.arange(lo, lo + count)) & 1


def _check_faults(stored: torch.Tensor, nbits: int, fault: str, rate: float, trial_seed: int,
                  layer: int) -> torch.Tensor:
    """The check words `stored` (int64 [out, in], nbits each) as read after the trial's faults."""
    hits = _hits(derive_seed(trial_seed, CHECK_STREAM), layer, stored.numel() * nbits, rate)
    if len(hits) == 0:
        return stored
    mask = bit_mask(hits, tuple(stored.shape), nbits)
    read = flip_bits(stored, mask, nbits) if fault == "bitflip" else stuck_at(stored, mask, int(fault[-1]), nbits)
    return to_code(read, nbits)


def _zero_where(q: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    return torch.where(bad, torch.zeros_like(q), q)


def _parity(clean: torch.Tensor, faulty: torch.Tensor, bits: int, k: int, fault: str, rate: float,
            trial_seed: int, layer: int) -> torch.Tensor:
    lo = bits - k
    stored = _bits_of(to_code(clean, bits), lo, k).sum(-1) & 1
    read = _check_faults(stored, 1, fault, rate, trial_seed, layer)
    seen = _bits_of(to_code(faulty, bits), lo, k).sum(-1) & 1
    return _zero_where(faulty, seen != read)


def _ecc(clean: torch.Tensor, faulty: torch.Tensor, bits: int, k: int, fault: str, rate: float,
         trial_seed: int, layer: int) -> torch.Tensor:
    lo, r = bits - k, hamming_check_bits(k)
    pos = torch.tensor(_data_positions(k, r))
    d_clean = _bits_of(to_code(clean, bits), lo, k)                     # [out, in, k]
    # check bit i = XOR of the data bits whose position has bit i set; stored as an r-bit word
    cover = (pos.unsqueeze(0) >> torch.arange(r).unsqueeze(1)) & 1      # [r, k]
    checks = (d_clean @ cover.T) & 1                                     # [out, in, r]
    stored = (checks << torch.arange(r)).sum(-1)
    c_read = _bits_of(_check_faults(stored, r, fault, rate, trial_seed, layer), 0, r)
    u = to_code(faulty, bits)
    d_read = _bits_of(u, lo, k)
    syndrome = ((((d_read @ cover.T) & 1) ^ c_read) << torch.arange(r)).sum(-1)  # position in error
    n = k + r
    fix = (syndrome.unsqueeze(-1) == pos).to(torch.int64)               # a data bit to flip
    d_fixed = d_read ^ fix
    low = u & ((1 << lo) - 1)
    word = low | (d_fixed << torch.arange(lo, bits)).sum(-1)
    return _zero_where(from_code(word, bits), syndrome > n)


def keep_bits(faults: list[LayerFaults], qs: list[torch.Tensor] | tuple[torch.Tensor, ...],
              bits: int | tuple[int, ...], hit_bits: tuple[int, ...]) -> list[LayerFaults]:
    """The faults restricted to the bit positions `hit_bits` (0 = LSB, bits - 1 = sign): a hit
    elsewhere is dropped. Each cell is hit independently, so this is the campaign whose faults
    can only reach those bits (for the ablation of which bits matter)."""
    widths = (bits,) * len(qs) if isinstance(bits, int) else tuple(bits)
    out = []
    for f in faults:
        if f.q is None:
            out.append(f)
            continue
        n = widths[f.layer - 1]
        keep = sum(1 << b for b in hit_bits if b < n)
        clean = to_code(qs[f.layer - 1].detach().cpu(), n)
        q = from_code(clean ^ ((to_code(f.q, n) ^ clean) & keep), n)
        g = dataclasses.replace(f, q=None if torch.equal(q, from_code(clean, n)) else q)
        if not g.empty:
            out.append(g)
    return out


def mitigate(name: str, faults: list[LayerFaults], qs: list[torch.Tensor] | tuple[torch.Tensor, ...],
             bits: int | tuple[int, ...], fault: str, rate: float, trial_seed: int,
             layers: tuple[int, ...] | list[int], protected_bits: int = 2) -> list[LayerFaults]:
    """The trial's faults as the mitigated memory reads them. `faults`: the non-empty faults of
    `sample_trial_faults` over 1-based `layers`; `qs`: the clean integers [out, in] per layer.
    Layers without data faults are still read through their (possibly faulty) check bits."""
    if name == "none" or fault not in WEIGHT_FAULTS:
        return faults
    widths = (bits,) * len(qs) if isinstance(bits, int) else tuple(bits)
    by_layer = {f.layer: f for f in faults}
    out: list[LayerFaults] = []
    for layer in layers:
        f = by_layer.get(layer, LayerFaults(layer))
        clean = qs[layer - 1].detach().cpu().to(torch.int32)
        faulty = clean if f.q is None else f.q
        n = widths[layer - 1]
        k = min(int(protected_bits), n)
        if name == "clamp":
            read = faulty.clamp(int(clean.min()), int(clean.max())) if f.q is not None else None
        elif name == "msb-parity":
            read = _parity(clean, faulty, n, k, fault, rate, trial_seed, layer)
        else:
            read = _ecc(clean, faulty, n, k, fault, rate, trial_seed, layer)
        if read is not None and torch.equal(read, clean):
            read = None
        g = dataclasses.replace(f, q=read)
        if not g.empty:
            out.append(g)
    return out
