"""A ticket drawn as a QR code (segno), for the registration page, the emails and the API."""

import io

import segno

# Error correction M: a phone's camera still reads a ticket from a creased or dim printout.
ERROR_CORRECTION = "m"


def ticket_svg(ticket: str, *, scale: int = 4) -> bytes:
    """The QR code of `ticket` as a standalone SVG document."""
    buffer = io.BytesIO()
    segno.make(ticket, error=ERROR_CORRECTION).save(buffer, kind="svg", scale=scale, border=4)
    return buffer.getvalue()


def ticket_png(ticket: str, *, scale: int = 6) -> bytes:
    """The QR code of `ticket` as a PNG image."""
    buffer = io.BytesIO()
    segno.make(ticket, error=ERROR_CORRECTION).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def ticket_svg_inline(ticket: str, *, scale: int = 4) -> str:
    """The QR code of `ticket` as an <svg> element, for an HTML page."""
    return segno.make(ticket, error=ERROR_CORRECTION).svg_inline(scale=scale, border=4)
