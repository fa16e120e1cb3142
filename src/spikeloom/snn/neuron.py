"""Leaky integrate-and-fire neuron as a pure step function plus a fused sequence kernel.

    U[t] = beta * U[t-1] + I[t] - S[t-1] * theta     (subtractive reset)
    U[t] = beta * U[t-1] * (1 - S[t-1]) + I[t]       (zero reset)
    S[t] = H(U[t] - theta)                           (spike when U[t] > theta)

beta = 1 gives the IF neuron. The reset term uses S[t-1] detached from the graph, as
snnTorch does. `lif_step` is the readable reference; `lif_sequence` runs all T steps in one
autograd node with a hand-written backward (same spikes, same gradients, much less overhead).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from spikeloom.snn.surrogate import spike, surrogate_grad


class LIFParameters(NamedTuple):
    """beta: decay per step in [0, 1]; threshold: theta (> 0); float or tensor ([] or [N])."""

    beta: float | torch.Tensor = 0.95
    threshold: float | torch.Tensor = 1.0
    reset: str = "subtract"
    surrogate: str = "fast_sigmoid"
    slope: float = 25.0


class LIFState(NamedTuple):
    mem: torch.Tensor  # membrane potential U[t-1], [B, N]
    spk: torch.Tensor  # spikes S[t-1], [B, N]


def initial_state(like: torch.Tensor) -> LIFState:
    return LIFState(torch.zeros_like(like), torch.zeros_like(like))


def lif_step(current: torch.Tensor, state: LIFState,
             p: LIFParameters = LIFParameters()) -> tuple[torch.Tensor, LIFState]:
    """One timestep. current: I[t] [B, N]. Returns (S[t], new state)."""
    prev_spk = state.spk.detach()
    if p.reset == "subtract":
        mem = p.beta * state.mem + current - prev_spk * p.threshold
    else:
        mem = p.beta * state.mem * (1.0 - prev_spk) + current
    spk = spike(mem - p.threshold, p.surrogate, p.slope)
    return spk, LIFState(mem, spk)


def lif_reference(current: torch.Tensor, p: LIFParameters = LIFParameters()
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Unfused loop over T. current [T, B, N] -> (spikes [T, B, N], membrane [T, B, N])."""
    state = initial_state(current[0])
    spikes, mems = [], []
    for t in range(current.shape[0]):
        spk, state = lif_step(current[t], state, p)
        spikes.append(spk)
        mems.append(state.mem)
    return torch.stack(spikes), torch.stack(mems)


def _as_tensor(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _reduce_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a [T, B, N] gradient down to a parameter's shape ([] or [N])."""
    if len(shape) == 0:
        return grad.sum()
    return grad.reshape(-1, grad.shape[-1]).sum(0).reshape(shape)


class _LIFSequence(torch.autograd.Function):
    """Forward: T fused steps without autograd. Backward: reverse-time linear scan."""

    @staticmethod
    def forward(ctx, current, beta, threshold, reset, kind, slope):  # type: ignore[override]
        steps = current.shape[0]
        mem_trace = torch.empty_like(current)
        spikes = torch.empty_like(current)
        mem = torch.zeros_like(current[0])
        spk = torch.zeros_like(current[0])
        for t in range(steps):
            if reset == "subtract":
                mem = torch.addcmul(torch.addcmul(current[t], mem, beta), spk, threshold, value=-1.0)
            else:
                mem = torch.addcmul(current[t], mem * (1.0 - spk), beta)
            mem_trace[t] = mem
            spk = (mem > threshold).to(current.dtype)
            spikes[t] = spk
        ctx.save_for_backward(mem_trace, spikes, beta, threshold)
        ctx.reset, ctx.kind, ctx.slope = reset, kind, slope
        ctx.mark_non_differentiable(mem_trace)
        return spikes, mem_trace

    @staticmethod
    def backward(ctx, grad_spikes, _grad_mem):  # type: ignore[override]
        mem_trace, spikes, beta, threshold = ctx.saved_tensors
        steps = mem_trace.shape[0]
        direct = grad_spikes * surrogate_grad(mem_trace - threshold, ctx.kind, ctx.slope)
        grad_mem = torch.empty_like(direct)
        carry = torch.zeros_like(direct[0])
        for t in range(steps - 1, -1, -1):
            # dU[t+1]/dU[t] = beta (subtract) or beta * (1 - S[t]) (zero reset)
            if ctx.reset == "subtract":
                carry = torch.addcmul(direct[t], carry, beta)
            else:
                carry = torch.addcmul(direct[t], carry * (1.0 - spikes[t]), beta)
            grad_mem[t] = carry
        grad_beta = grad_threshold = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            prev_mem = torch.cat([torch.zeros_like(mem_trace[:1]), mem_trace[:-1]])
            prev_spk = torch.cat([torch.zeros_like(spikes[:1]), spikes[:-1]])
            if ctx.needs_input_grad[1]:
                dmem_dbeta = prev_mem if ctx.reset == "subtract" else prev_mem * (1.0 - prev_spk)
                grad_beta = _reduce_to(grad_mem * dmem_dbeta, beta.shape)
            if ctx.needs_input_grad[2]:
                g = -direct
                if ctx.reset == "subtract":
                    g = g - grad_mem * prev_spk
                grad_threshold = _reduce_to(g, threshold.shape)
        return grad_mem, grad_beta, grad_threshold, None, None, None


def lif_sequence(current: torch.Tensor, p: LIFParameters = LIFParameters(),
                 return_mem: bool = False):
    """Fused LIF over a whole sequence. current [T, B, N] -> spikes [T, B, N]
    (and membrane [T, B, N] when `return_mem`). Same numbers as `lif_reference`."""
    beta = _as_tensor(p.beta, current)
    threshold = _as_tensor(p.threshold, current)
    spikes, mem = _LIFSequence.apply(current, beta, threshold, p.reset, p.surrogate, p.slope)
    return (spikes, mem) if return_mem else spikes


def leaky_integrate(current: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """Non-spiking leaky integrator U[t] = beta U[t-1] + I[t] (membrane readout). [T,B,N]->[T,B,N]."""
    mems = []
    mem = torch.zeros_like(current[0])
    for t in range(current.shape[0]):
        mem = beta * mem + current[t]
        mems.append(mem)
    return torch.stack(mems)
