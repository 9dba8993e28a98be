"""Launch: the pages whose button starts a technician's XOi Vision activity with the very
share ID the invoice will carry.

- :func:`write_pages` a page for every work order of the inputs, and their index;
- :func:`launch_for` one typed work order's launch, then :func:`page_html`,
  :func:`curl_command` or :func:`write_page` for it, posting to :func:`form_action`.
"""

from .pages import (
    INDEX,
    curl_command,
    form_action,
    launch_for,
    page_html,
    page_name,
    write_page,
    write_pages,
)

__all__ = ["INDEX", "curl_command", "form_action", "launch_for", "page_html", "page_name",
           "write_page", "write_pages"]
