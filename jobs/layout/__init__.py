"""Ad-creative layout and rendering: pure (Pillow + numpy only; no Celery, boto3 or SQL).

Formats and templates are data (``formats.py``, ``templates.py``): a new channel format or template
is a new entry, not a new code path. ``compose.layout`` fits the copy into a format (the submit-time
check uses it too); ``compose.render`` draws a fitted layout with the product and the brand kit.
"""

from __future__ import annotations


class LayoutError(ValueError):
    """Copy or a format that cannot be laid out; ``element`` names the copy element (or
    "format")."""

    def __init__(self, element: str, message: str):
        super().__init__(message)
        self.element = element
        self.message = message
