"""d6tflow's ``cache`` module: the in-memory store of ``TaskCache*`` outputs
(``daskflow.data``), and the d6tpipe state daskflow does not carry over."""

from __future__ import annotations

from typing import Any

from ..targets import data as data

__all__ = ["api", "data", "pipe_default_name", "pipes"]

api: Any = None
pipe_default_name: str | None = None
pipes: dict[str, Any] = {}
