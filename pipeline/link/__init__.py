"""Link: work orders + what the folder published → invoices with their share ID, share URL,
invoice date and due date; launches with their share ID.

Every rule that keeps a link immutable and unique lives here only:

- :class:`Claims` the invoices' links, a chunk of orders at a time (:meth:`Claims.look_up`,
  then :meth:`Claims.invoice`), asking the folder (:class:`Issued`) what other tickets
  hold;
- :func:`launches` the launch pages' share IDs, by the same rules;
- :func:`published_link` the link a ticket's invoice carries (``share-url``);
- :func:`issue_date` the date of new invoices, read once per run;
- :func:`derive_share_id`, :func:`share_id_warning` and :func:`check_url`: how share IDs and
  URLs are made and checked.
"""

from .claims import Claims, Issued, Launch, Launches, issue_date, launches, published_link
from .share import check_url, derive_share_id, share_id_warning

__all__ = [
    "Claims", "Issued", "Launch", "Launches", "check_url", "derive_share_id", "issue_date",
    "launches", "published_link", "share_id_warning",
]
