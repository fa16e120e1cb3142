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

from spikeloom.snn.surrogate import spike, surrogate_grad_times


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


def _scan(current: torch.Tensor, beta: torch.Tensor, threshold: torch.Tensor, reset: str,
          keep_mem: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The forward recurrence, written straight into preallocated outputs.

    Every step is the reference's own sequence of correctly rounded operations,
    ((beta * U) + I) - S * theta, then S = (U > theta), so spikes are bit-identical to
    `lif_reference` (and snnTorch): four in-place kernels per step and no allocation.
    Returns (spikes [T, B, N], membrane [T, B, N] or None when `keep_mem` is false).
    """
    steps = current.shape[0]
    spikes = torch.empty_like(current, memory_format=torch.contiguous_format)
    mem_trace = torch.empty_like(spikes) if keep_mem else None
    mem = mem_trace[0] if mem_trace is not None else torch.empty_like(spikes[0])
    mem.copy_(current[0])  # beta * 0 + I[0] - 0 * theta == I[0]
    torch.gt(mem, threshold, out=spikes[0])
    for t in range(1, steps):
        if mem_trace is not None:
            nxt = mem_trace[t]
            torch.mul(mem, beta, out=nxt)
            mem = nxt
        else:
            mem.mul_(beta)
        if reset == "subtract":
            mem.add_(current[t])
            mem.addcmul_(spikes[t - 1], threshold, value=-1.0)  # S * theta is exact: 0 or theta
        else:
            mem.mul_(1.0 - spikes[t - 1])  # (beta * U) * (1 - S): exact zero or unchanged
            mem.add_(current[t])
        torch.gt(mem, threshold, out=spikes[t])
    return spikes, mem_trace


class _LIFSequence(torch.autograd.Function):
    """Forward: T fused steps without autograd. Backward: reverse-time linear scan.

    Saves the membrane trace and the spikes (which double as the reset mask); the
    surrogate derivative is computed only in backward, in place on one scratch tensor.
    """

    @staticmethod
    def forward(ctx, current, beta, threshold, reset, kind, slope):  # type: ignore[override]
        spikes, mem_trace = _scan(current, beta, threshold, reset, keep_mem=True)
        ctx.save_for_backward(mem_trace, spikes, beta, threshold)
        ctx.reset, ctx.kind, ctx.slope = reset, kind, slope
        ctx.mark_non_differentiable(mem_trace)
        ctx.set_materialize_grads(False)  # no [T, B, N] zero tensor for the unused membrane grad
        return spikes, mem_trace

    @staticmethod
    def backward(ctx, grad_spikes, _grad_mem):  # type: ignore[override]
        mem_trace, spikes, beta, threshold = ctx.saved_tensors
        if grad_spikes is None:  # the spikes did not reach the loss
            return None, None, None, None, None, None
        steps = mem_trace.shape[0]
        # direct[t] = dL/dS[t] * dS[t]/dU[t]; computed into one fresh tensor, nothing saved is touched
        direct = surrogate_grad_times(mem_trace - threshold, grad_spikes, ctx.kind, ctx.slope)
        want_beta, want_threshold = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        direct_copy = direct.clone() if want_threshold else None
        # grad_mem[t] = direct[t] + grad_mem[t+1] * dU[t+1]/dU[t], in place on `direct`, with
        # dU[t+1]/dU[t] = beta (subtract) or beta * (1 - S[t]) (zero reset). A separate multiply
        # and add (not a fused addcmul) round as autograd does on lif_reference: same bits.
        grad_mem = direct
        decay = beta if ctx.reset == "subtract" else (1.0 - spikes).mul_(beta)
        scratch = torch.empty_like(grad_mem[0])
        for t in range(steps - 2, -1, -1):
            torch.mul(grad_mem[t + 1], decay if decay.dim() < grad_mem.dim() else decay[t], out=scratch)
            grad_mem[t].add_(scratch)
        grad_beta = grad_threshold = None
        if want_beta or want_threshold:
            prev_mem = torch.cat([torch.zeros_like(mem_trace[:1]), mem_trace[:-1]])
            prev_spk = torch.cat([torch.zeros_like(spikes[:1]), spikes[:-1]])
            if want_beta:
                dmem_dbeta = prev_mem if ctx.reset == "subtract" else prev_mem * (1.0 - prev_spk)
                grad_beta = _reduce_to(grad_mem * dmem_dbeta, beta.shape)
            if want_threshold:
                g = -direct_copy
                if ctx.reset == "subtract":
                    g = g - grad_mem * prev_spk
                grad_threshold = _reduce_to(g, threshold.shape)
        return grad_mem, grad_beta, grad_threshold, None, None, None


def lif_sequence(current: torch.Tensor, p: LIFParameters = LIFParameters(),
                 return_mem: bool = False):
    """Fused LIF over a whole sequence. current [T, B, N] -> spikes [T, B, N]
    (and membrane [T, B, N] when `return_mem`). Same numbers as `lif_reference`.

    Without autograd (inference, `torch.no_grad()`, or no input that requires grad) the
    scan runs directly and keeps only one membrane buffer unless `return_mem` asks for
    the trace.
    """
    beta = _as_tensor(p.beta, current)
    threshold = _as_tensor(p.threshold, current)
    if current.shape[0] == 0:
        empty = current.new_empty(current.shape)
        return (empty, empty.clone()) if return_mem else empty
    if not (torch.is_grad_enabled()
            and (current.requires_grad or beta.requires_grad or threshold.requires_grad)):
        spikes, mem = _scan(current.detach(), beta.detach(), threshold.detach(), p.reset,
                            keep_mem=return_mem)
        return (spikes, mem) if return_mem else spikes
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
