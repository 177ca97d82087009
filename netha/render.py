"""Moved to the driver layer: templates are rendered by the drivers (:mod:`netha.drivers.render`),
the change types are :mod:`netha.drivers.changes`. This module only re-exports them for code that
still imports ``netha.render``."""

from __future__ import annotations

from .drivers.changes import OPERATIONS, ChangeValues, Operation
from .drivers.render import TEMPLATE_PACKAGE, Renderer, builtin_template_dir, renderer

__all__ = ["OPERATIONS", "TEMPLATE_PACKAGE", "ChangeValues", "Operation", "Renderer", "builtin_template_dir", "renderer"]
