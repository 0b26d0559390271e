"""What leaves the tool: a session's answers as files another tool reads."""

from nudge.loop.export.annotations import export_annotations

__all__ = ["export_annotations"]
