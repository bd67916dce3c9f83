"""Signals of the licensing context, for the other contexts to subscribe to (blinker,
as Flask's own signals).

``deal_signed``
    A deal has been signed by both sides. Sent once per deal, after the transaction
    that signed it commits — never for a refused signature, a first side's signature or
    a signature whose transaction rolled back. Sender: the Flask app (connect with
    ``sender=app`` to hear only your app). Keyword arguments: ``deal_id`` (int) and
    ``number`` (``D-2026-0001``).

    Receivers run right after the commit, in the same application context, while the
    session is between transactions: they must not use the database. To do work, queue
    a task with the id (``marketplace.jobs.enqueue`` sends it at once from here), and
    let the task load the deal. A receiver that raises is logged; the others still run
    and the signature stands.

    Example (``transcode``)::

        deal_signed.connect(deliver_on_signature, sender=app)

        def deliver_on_signature(app, *, deal_id, **_kwargs):
            enqueue(tasks.prepare_delivery, deal_id)
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

deal_signed = _signals.signal("deal-signed", doc="A deal was signed by both sides "
                                                 "(sent after the commit).")
