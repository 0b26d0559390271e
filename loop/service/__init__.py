"""What the page and the API call, without Gradio: queries with their pictures, answers in every
form a direction takes, the tabs of the page, and the help with rewrites."""

from nudge.loop.service.service import AnnotationService, Direction, Picture, Restored

__all__ = ["AnnotationService", "Direction", "Picture", "Restored"]
