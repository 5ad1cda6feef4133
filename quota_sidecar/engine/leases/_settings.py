"""How leases are sized and when a subject counts as hot."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeaseSettings"]


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    """`hot_checks`: a subject of a `lease: auto` quota is leased once this replica has checked
    it at least this many times within one second (the current or the previous one).
    `max_slice`: the most one slice takes. `k`: a slice is at most room / (k * holders), where
    holders counts this replica and every other that held a slice of the subject in the last
    minute, so what the others keep unused shrinks with the room. `sweep_seconds`: how often
    slices whose bucket ended are given back when no check renewed them."""

    hot_checks: int = 5
    max_slice: int = 1000
    k: int = 2
    sweep_seconds: float = 0.5
