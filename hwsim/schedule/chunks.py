"""Weight chunks: a layer's weights in pieces of whole output channels, as large as a budget
allows (``tiling`` says where the budget comes from and how chunks run)."""

from __future__ import annotations

from typing import Callable, NamedTuple


class Chunk(NamedTuple):  # a named tuple: every weight budget tried makes some, so it must be cheap
    first: int  # first output channel
    end: int  # one past the last
    nbytes: int


def plan_chunks(weight_bytes: int, channels: int, budget: int,
                aligned: Callable[[int], int]) -> tuple[Chunk, ...] | None:
    """Weight chunks of whole output channels, each (aligned) within ``budget``; None if one
    channel does not fit; () without weights."""
    if weight_bytes == 0:
        return ()
    if aligned(weight_bytes) <= budget:
        return (Chunk(0, channels, weight_bytes),)
    per_chunk = channels_per_chunk(weight_bytes, channels, budget, aligned)
    return chunks_of(weight_bytes, channels, per_chunk) if per_chunk else None


def channels_per_chunk(weight_bytes: int, channels: int, budget: int, aligned: Callable[[int], int]) -> int:
    """The most output channels whose weights (aligned) fit ``budget`` (0: not one)."""
    if aligned(weight_bytes) <= budget:
        return channels
    lo, hi = 0, channels
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if aligned(-(-weight_bytes * mid // channels)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def chunks_of(weight_bytes: int, channels: int, per_chunk: int) -> tuple[Chunk, ...]:
    """The weights of ``channels`` output channels in chunks of ``per_chunk`` channels."""
    return tuple(
        Chunk(k0, min(k0 + per_chunk, channels),
              weight_bytes * min(k0 + per_chunk, channels) // channels - weight_bytes * k0 // channels)
        for k0 in range(0, channels, per_chunk)
    )
