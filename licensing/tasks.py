"""Worker-side work of the licensing context: the sweep that marks offers past their
expiry as expired, run by every worker every ``PDX_LICENSING_EXPIRE_INTERVAL`` seconds
(a periodic duty, see ``marketplace.jobs.add_periodic``) and by
``pdx avails expire-offers``.
"""

from __future__ import annotations

import logging

from marketplace.extensions import db

log = logging.getLogger(__name__)

#: Seconds between two sweeps of a worker (``PDX_LICENSING_EXPIRE_INTERVAL``; 0: none).
DEFAULT_EXPIRE_INTERVAL = 300


def expire_offers() -> list[str]:
    """Expire the live offers past their expiry and commit; returns their numbers.
    Safe to run in several processes at once: each offer expires, and is audited, once."""
    from licensing import services

    numbers = [offer.number for offer in services.expire_offers()]
    db.session.commit()
    if numbers:
        log.info("offers expired: %s", ", ".join(numbers))
    return numbers
