"""CP-SAT model of the crossbar mapping (the paper's constraints 3-7 with axon sharing).

The model places a set of neurons onto a list of crossbar *slots* (each slot has a library
type). It serves both the full problem and the LNS sub-problems (a few crossbars' neurons
re-placed while the rest stay fixed). Identical slots are made asymmetric: used slots
come first, and a slot of a type is only open to neurons whose rank (hardest first) among
the neurons that fit that type is at least the slot's index (slots ordered by their
hardest neuron), which removes the permutations of identical crossbars.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from spikeloom.hw.instance import Bin, Instance


@dataclass(frozen=True)
class SolveOutcome:
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN | MODEL_INVALID
    bins: list[Bin] | None
    objective: float | None
    bound: float | None
    wall_seconds: float
    deterministic_time: float


class SlotModel:
    def __init__(self, inst: Instance, neurons: list[int], slot_types: list[int],
                 stages: tuple[str, ...], packet_scale: float = 1.0) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.inst = inst
        self.neurons = list(neurons)
        self.slot_types = list(slot_types)
        m = cp_model.CpModel()
        self.model = m
        in_model = set(self.neurons)
        order = sorted(self.neurons, key=lambda p: (-inst.fanin[p], p))  # hardest first
        # index of each slot among the slots of its type
        seen: dict[int, int] = {}
        self.slot_index: list[int] = []
        for t in self.slot_types:
            self.slot_index.append(seen.get(t, 0))
            seen[t] = seen.get(t, 0) + 1
        rank_in_type: dict[int, dict[int, int]] = {}
        for t in set(self.slot_types):
            ct = inst.types[t]
            fits = [p for p in order if inst.fanin[p] <= ct.inputs]
            rank_in_type[t] = {p: r for r, p in enumerate(fits)}

        # x[p, j] = 1: neuron p outputs on slot j
        self.x: dict[tuple[int, int], Any] = {}
        for j, t in enumerate(self.slot_types):
            ranks = rank_in_type[t]
            for p in self.neurons:
                r = ranks.get(p)
                if r is not None and r >= self.slot_index[j]:
                    self.x[p, j] = m.NewBoolVar(f"x[{p},{j}]")
        # y[j] = 1: slot j is used (its crossbar is built)
        self.y = [m.NewBoolVar(f"y[{j}]") for j in range(len(self.slot_types))]
        by_slot: dict[int, list[int]] = {j: [] for j in range(len(self.slot_types))}
        by_neuron: dict[int, list[int]] = {p: [] for p in self.neurons}
        for p, j in self.x:
            by_slot[j].append(p)
            by_neuron[p].append(j)
        for p in self.neurons:  # (3) every neuron on exactly one crossbar
            m.AddExactlyOne(self.x[p, j] for j in by_neuron[p])
        # s[v, j] = 1: slot j takes node v's spikes on one of its axons (shared by all of
        # v's targets on j: axon sharing)
        self.s: dict[tuple[int, int], Any] = {}
        needers: dict[tuple[int, int], list[Any]] = {}
        for (p, j), xv in self.x.items():
            for v in inst.src[p]:
                key = (v, j)
                if key not in self.s:
                    self.s[key] = m.NewBoolVar(f"s[{v},{j}]")
                    needers[key] = []
                m.AddImplication(xv, self.s[key])  # (5) s_vj >= x_pj for each synapse v -> p
                needers[key].append(xv)
        for key, xs in needers.items():  # an axon only where some target needs it
            m.AddBoolOr(xs).OnlyEnforceIf(self.s[key])
        ax_by_slot: dict[int, list[Any]] = {j: [] for j in range(len(self.slot_types))}
        for (_v, j), sv in self.s.items():
            ax_by_slot[j].append(sv)
        for j, t in enumerate(self.slot_types):
            ct = inst.types[t]
            # (4) outputs and (6) axons within the crossbar's size, and only if it is used
            m.Add(sum(self.x[p, j] for p in by_slot[j]) <= ct.outputs * self.y[j])
            m.Add(sum(ax_by_slot[j]) <= ct.inputs * self.y[j])
            m.AddBoolOr([self.x[p, j] for p in by_slot[j]]).OnlyEnforceIf(self.y[j])
        for j in range(1, len(self.slot_types)):  # used slots of a type first
            if self.slot_types[j] == self.slot_types[j - 1]:
                m.AddImplication(self.y[j], self.y[j - 1])
        # redundant: enough outputs in total
        m.Add(sum(inst.types[t].outputs * self.y[j] for j, t in enumerate(self.slot_types))
              >= len(self.neurons))
        # b[v, j] = 1: v's axon on slot j is local (v itself outputs on j), i.e. no global route
        self.b: dict[tuple[int, int], Any] = {}
        if any(st in ("global", "packets") for st in stages):
            for (v, j), sv in self.s.items():
                p = inst.pos_of_node[v]
                if p in in_model and (p, j) in self.x:
                    bv = m.NewBoolVar(f"b[{v},{j}]")
                    m.AddImplication(bv, sv)
                    m.AddImplication(bv, self.x[p, j])
                    self.b[v, j] = bv
        self.packet_scale = packet_scale
        self.exprs = {st: self._expr(st) for st in stages}

    def _expr(self, stage: str) -> Any:
        inst = self.inst
        if stage == "area":  # (8)
            return sum(inst.types[t].cost * self.y[j] for j, t in enumerate(self.slot_types))
        if stage == "routes":  # (9)
            return sum(self.s.values())
        if stage == "global":  # (10)-(11)
            return sum(self.s.values()) - sum(self.b.values())
        if stage == "packets":  # (12), W_k scaled to integers
            w = [round(x * self.packet_scale) for x in inst.weight]
            return (sum(w[v] * sv for (v, _), sv in self.s.items() if w[v])
                    - sum(w[v] * bv for (v, _), bv in self.b.items() if w[v]))
        raise ValueError(stage)

    def hint(self, bins: list[Bin]) -> None:
        """Give CP-SAT a starting solution (bins must use this model's slot types)."""
        placed = self.match_slots(bins)
        if placed is None:
            return
        self.model.ClearHints()
        where = {p: j for j, ns in placed.items() for p in ns}
        for (p, j), xv in self.x.items():
            self.model.AddHint(xv, int(where.get(p) == j))
        for j, yv in enumerate(self.y):
            self.model.AddHint(yv, int(j in placed))
        for (v, j), sv in self.s.items():
            self.model.AddHint(sv, int(any(v in self.inst.src[p] for p in placed.get(j, ()))))
        for (v, j), bv in self.b.items():
            need = any(v in self.inst.src[p] for p in placed.get(j, ()))
            self.model.AddHint(bv, int(need and where.get(self.inst.pos_of_node[v]) == j))

    def match_slots(self, bins: list[Bin]) -> dict[int, tuple[int, ...]] | None:
        """Put bins into slots in the order the symmetry breaking wants (hardest neuron first)."""
        inst = self.inst
        free: dict[int, list[int]] = {}
        for j, t in enumerate(self.slot_types):
            free.setdefault(t, []).append(j)
        out: dict[int, tuple[int, ...]] = {}
        key = {p: (-inst.fanin[p], p) for p in self.neurons}
        for b in sorted(bins, key=lambda b: min(key[p] for p in b.neurons)):
            slots = free.get(b.type)
            if not slots:
                return None
            j = slots.pop(0)
            if any((p, j) not in self.x for p in b.neurons):
                return None
            out[j] = b.neurons
        return out

    def solve(self, objective: Any, time_limit: float, workers: int, seed: int,
              deterministic_limit: float | None = None, upper: int | None = None,
              fixed: list[tuple[Any, int]] | None = None, lower: int | None = None) -> SolveOutcome:
        """Minimise `objective` (an expression); `upper` caps it; `fixed` adds `expr <= value`."""
        cp = self.cp
        m = self.model.Clone()
        if upper is not None:
            m.Add(objective <= upper)
        if lower is not None:  # a proven bound from elsewhere: lets CP-SAT stop on reaching it
            m.Add(objective >= lower)
        for expr, val in fixed or []:
            m.Add(expr <= val)
        m.Minimize(objective)
        solver = cp.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, float(time_limit))
        solver.parameters.num_workers = max(1, int(workers))
        solver.parameters.random_seed = int(seed)
        if deterministic_limit is not None:
            solver.parameters.max_deterministic_time = max(0.01, float(deterministic_limit))
        t0 = time.perf_counter()
        code = solver.Solve(m)
        wall = time.perf_counter() - t0
        status = solver.StatusName(code)
        dt = float(solver.ResponseProto().deterministic_time)
        if code in (cp.OPTIMAL, cp.FEASIBLE):
            bins = []
            for j, t in enumerate(self.slot_types):
                ns = tuple(p for p in self.neurons if (p, j) in self.x and solver.Value(self.x[p, j]))
                if ns:
                    bins.append(type(self)._bin(t, ns))
            return SolveOutcome(status, bins, solver.ObjectiveValue(), solver.BestObjectiveBound(), wall, dt)
        return SolveOutcome(status, None, None, None, wall, dt)

    @staticmethod
    def _bin(t: int, ns: tuple[int, ...]) -> Bin:
        return Bin(t, ns)

    @property
    def size(self) -> int:
        return len(self.x) + len(self.s) + len(self.b)
