"""Where things go on the invoice page: sizes the template needs that CSS cannot compute.

The QR code's printed size (from its module count), the printed URL's font size (from
Noto Sans advance widths) and the widths of the fixed-layout table columns (from the
longest value of each). Pure functions of the invoice's text: no WeasyPrint here.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import qrcode

QR_MODULE_MM = 0.8  # 4.7 pixels at 150 dpi: zbar needs about 4
QR_QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
QR_MIN_MM = 30.0
# Longer than this, an address line's last two words are not kept together: in a narrow
# column they would overflow it rather than wrap.
KEPT_TOGETHER = 16
_EMAIL_BREAKS = re.compile(r"(?<=@)|(?=\.)")
# The XOi section's text column with no QR code: an A4 page's 178 mm between margins,
# less the box's borders and padding (9.3 mm) and the gap after the QR code (5 mm).
XOI_TEXT_MM = 163.7
# Noto Sans Regular advance widths (units per em: 1000) of the characters " " to "~".
_NOTO_SANS_WIDTHS = (
    260, 269, 408, 646, 572, 831, 732, 225, 300, 300, 551, 572, 268, 322, 268, 372, 572, 572,
    572, 572, 572, 572, 572, 572, 572, 572, 268, 268, 572, 572, 572, 434, 899, 639, 650, 632,
    730, 556, 519, 728, 741, 339, 273, 619, 524, 907, 760, 781, 605, 781, 622, 549, 556, 731,
    600, 930, 586, 566, 572, 329, 372, 329, 572, 444, 281, 561, 615, 480, 615, 564, 344, 615,
    618, 258, 258, 534, 258, 935, 618, 605, 615, 615, 413, 479, 361, 618, 508, 786, 529, 510,
    470, 380, 551, 380, 572,
)


def qr_code(url: str) -> tuple[str, float]:
    """The URL as a QR code PNG of one pixel per module, and the width to print it at (mm).

    A bitmap this small is cheaper for WeasyPrint than an SVG of hundreds of paths, and
    CSS scales it without blurring. The printed size grows with the module count: zbar
    reads a 150 dpi scan only from about 4 pixels (0.68 mm) per module, so a longer URL,
    which needs more modules, gets a larger code rather than smaller modules.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=1, border=QR_QUIET_ZONE)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    width = max(QR_MIN_MM, (code.modules_count + 2 * QR_QUIET_ZONE) * QR_MODULE_MM)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), width


def share_url_size(url: str, qr_width: float) -> tuple[float, bool]:
    """A font size (pt) that keeps the printed URL on one line beside the QR code.

    One line is what lets a reader, or a tool extracting the text, take the URL whole.
    The room is the built-in layout's (the narrower A4 page, less the QR code); the
    URL's width comes from Noto Sans' advance widths, since a share URL is printable
    ASCII. Below 5 pt the URL is too small to read, so it wraps instead (``True``).
    """
    room = (XOI_TEXT_MM - qr_width) * 72 / 25.4 * 0.97
    ems = sum(_NOTO_SANS_WIDTHS[ord(char) - 32] for char in url) / 1000
    size = min(9.0, room / max(ems, 1.0))
    return (size, False) if size >= 5.0 else (6.0, True)


def column_widths(invoice: dict[str, Any]) -> dict[str, str]:
    """CSS widths for the columns of the invoice's tables, from the longest value each holds.

    The tables are laid out with ``table-layout: fixed``, which skips measuring every
    cell (a third of the render time) but would let a long amount spill into its
    neighbour. Digits are one ``ch`` wide in the invoice fonts, most letters and symbols
    at most that; bold and larger text gets a wider ``ch``. Facts and totals are capped:
    a longer value wraps inside its cell.
    """
    items = invoice["line_items"]

    def width(values: list[str], least: int, scale: float = 1.0, pad: int = 6,
              most: int | None = None) -> str:
        longest = max((len(value) for value in values), default=0)
        wide = f"max({least}mm, calc({longest * scale:g}ch + {pad}mm))"
        return f"min({most}mm, {wide})" if most else wide

    return {
        "quantity": width([item["quantity"] for item in items], 14),
        "money": width([item[key] for item in items for key in ("unit_price", "amount")], 24),
        "facts": width([invoice[key] for key in ("number", "date", "due", "ticket",
                                                 "po_number")], 20, 1.15, 1, most=55),
        "totals": width([invoice[key] for key in ("subtotal", "tax", "total")], 28, 1.25, 1,
                        most=58),
    }


def amount_due_width(invoice: dict[str, Any], labels: dict[str, str]) -> str:
    """The amount-due column's width: as wide as its amount (16 pt bold, ~1.8 ``ch`` a
    character), its heading and its due date need, so the addresses get the rest."""
    heading = labels["credit"] if invoice["credit"] else labels["amount_due"]
    ems = max(len(invoice["credit"] or invoice["total"]) * 1.8, len(heading),
              len(labels["due_by"]) + 1 + len(invoice["due"]))
    return f"min(70mm, max(36mm, calc({ems:g}ch + 2mm)))"


def address_lines(text: str) -> list[tuple[str, str]]:
    """Each line of an address as (lead, tail), the tail its last two words when short.

    The template keeps the tail on one line, so a postcode never wraps alone onto a line
    of its own: ``Denver, CO 80210`` wraps before ``CO 80210``.
    """
    lines = []
    for line in text.splitlines() or [""]:
        words = line.split()
        tail = " ".join(words[-2:])
        if len(words) < 2 or len(tail) > KEPT_TOGETHER:
            lines.append((" ".join(words), ""))
        else:
            lines.append((" ".join(words[:-2]), tail))
    return lines


def email_parts(address: str) -> list[str]:
    """The address cut after its ``@`` and before each dot, where it may wrap
    (``<wbr>`` between the parts): never in the middle of a name."""
    return [part for part in _EMAIL_BREAKS.split(address) if part]
