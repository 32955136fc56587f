"""First Block Cache on Wan VACE: how many transformer calls it skips, how much time it saves, and a caveat.

diffusers' ``CacheMixin.enable_cache(FirstBlockCacheConfig(threshold))`` hooks the transformer's main ``blocks``:
the first block always runs; when its output residual changed by less than ``threshold`` (relative mean absolute
difference) since the last full pass of the same cache context ("cond" / "uncond", which ``WanVACEPipeline``
names), the other blocks are skipped and the last full pass's residual is reused. The VACE blocks
(``vace_blocks``, the control branch) are not hooked: they run on every call.

:class:`BlockCounter` counts, with plain torch forward hooks on each main block's self-attention (which only runs
when the block really computes), the transformer calls, the full passes and the blocks computed;
:func:`measure_cache` runs a job once with the cache at a threshold (or off) and reports them with the wall time,
for the bench and the job log.

Caveat (measured here, diffusers 0.42.1): on a skipped call the cached residual already holds the VACE control
hints of the last full pass, and ``WanVACETransformer3DModel.forward`` adds the fresh hints after blocks 0, 5,
10... again (they are added between blocks, outside the hooks): the control signal counts twice on skipped calls.
With the same input twice, the cached output differs from the computed one by the hints (tests show it; with zero
hints it is exact). :func:`hint_corrected` cancels the fresh hints on skipped calls, so a skipped call returns
head block + cached residual as First Block Cache means. Quality on real weights cannot be judged here: keep the
cache off by default.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import torch


class BlockCounter:
    """Counts the transformer's calls, full passes (its last main block computed) and main blocks computed while
    active (``with BlockCounter(transformer) as counts: ...``)."""

    def __init__(self, transformer: torch.nn.Module):
        self.transformer = transformer
        self.blocks = len(transformer.blocks)
        self.calls = 0
        self.full_passes = 0
        self.blocks_computed = 0
        self._handles: list = []

    def __enter__(self) -> "BlockCounter":
        def on_call(*_):
            self.calls += 1

        def on_block(index: int):
            def hook(*_):
                self.blocks_computed += 1
                if index == self.blocks - 1:
                    self.full_passes += 1
            return hook

        self._handles.append(self.transformer.register_forward_pre_hook(on_call))
        for index, block in enumerate(self.transformer.blocks):
            self._handles.append(block.attn1.register_forward_pre_hook(on_block(index)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @property
    def skipped_share(self) -> float:
        """The share of main-block computations skipped (0 without the cache)."""
        total = self.calls * self.blocks
        return 1 - self.blocks_computed / total if total else 0.0


@dataclass(frozen=True)
class CacheMeasurement:
    threshold: Optional[float]  # None: cache off
    calls: int
    full_passes: int
    blocks_computed: int
    blocks_per_call: int
    skipped_share: float
    seconds: float

    def line(self) -> str:
        label = "off" if self.threshold is None else f"threshold {self.threshold:g}"
        return (f"first block cache {label}: {self.full_passes}/{self.calls} full transformer passes, "
                f"{self.skipped_share:.0%} of block computations skipped, {self.seconds:.2f} s")


@contextlib.contextmanager
def first_block_cache(transformer: Any, threshold: Optional[float], *, correct_hints: bool = True) -> Iterator[None]:
    """The cache on ``transformer`` for the block (off when ``threshold`` is None), removed afterwards so the next
    job runs as a fresh engine would; ``correct_hints`` applies :func:`hint_corrected`."""
    if threshold is None:
        yield
        return
    from diffusers.hooks import FirstBlockCacheConfig

    transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))
    try:
        with hint_corrected(transformer) if correct_hints else contextlib.nullcontext():
            yield
    finally:
        transformer.disable_cache()


def measure_cache(run: Callable[[], Any], transformer: Any, threshold: Optional[float], *,
                  correct_hints: bool = True) -> CacheMeasurement:
    """Runs ``run()`` (e.g. one pipeline call) with the cache at ``threshold`` (None: off) and counts."""
    with first_block_cache(transformer, threshold, correct_hints=correct_hints), BlockCounter(transformer) as counts:
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
    return CacheMeasurement(threshold, counts.calls, counts.full_passes, counts.blocks_computed, counts.blocks,
                            counts.skipped_share, seconds)


def _fbc_state(transformer: Any) -> Any:
    """The First Block Cache's shared state of the current cache context (diffusers' head-block hook)."""
    from diffusers.hooks import HookRegistry

    registry = HookRegistry.check_if_exists_or_initialize(transformer.blocks[0])
    hook = registry.get_hook("fbc_leader_block_hook")
    return None if hook is None else hook.state_manager.get_state()


@contextlib.contextmanager
def hint_corrected(transformer: Any) -> Iterator[None]:
    """On calls where the cache skips the blocks, take the fresh VACE hints back out of the head block's output
    (``forward`` adds them after it and after the other VACE layers, while the cached residual holds the last full
    pass's): a skipped call then returns head block + cached residual, as First Block Cache means."""
    hints: list[torch.Tensor] = []
    scales: list[Any] = []

    def on_call(_module, _args, kwargs):
        hints.clear()
        scale = kwargs.get("control_hidden_states_scale")
        count = len(transformer.config.vace_layers)
        scales[:] = [1.0] * count if scale is None else (
            [scale] * count if isinstance(scale, (int, float)) else list(scale))

    def on_vace_block(_module, _args, output):
        hints.append(output[0])

    def after_head(_module, _args, output):
        state = _fbc_state(transformer)
        if state is None or state.should_compute:
            return output
        return output - sum(h * s for h, s in zip(hints, scales))

    handles = [transformer.register_forward_pre_hook(on_call, with_kwargs=True),
               transformer.blocks[0].register_forward_hook(after_head)]
    handles += [block.register_forward_hook(on_vace_block) for block in transformer.vace_blocks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


__all__ = ["BlockCounter", "CacheMeasurement", "first_block_cache", "measure_cache", "hint_corrected"]
