"""Durability: what happens when Redis can't answer. The record spool (usage is never lost),
the undo of checks whose reply was lost, and the per-quota failure modes (open, closed,
local). Part of the engine: may import the store and the domain, never the server or wire.
"""
