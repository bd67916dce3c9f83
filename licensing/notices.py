"""In-app notifications of the licensing context, rendered in the reader's language."""

from __future__ import annotations

from flask import Flask

from marketplace.i18n import _

# kind -> render(params); the text is looked up when the reader opens the list.
TEXTS = {
    "licensing.inquiry": lambda p: _("%(org)s asks about %(title)s: %(subject)s", **p),
    "licensing.message": lambda p: _("%(org)s replied in “%(subject)s”", **p),
    "licensing.offer": lambda p: _("%(org)s made offer %(number)s for %(title)s", **p),
    "licensing.counter": lambda p: _("%(org)s countered offer %(number)s (round %(round)s)",
                                     **p),
    "licensing.declined": lambda p: _("%(org)s declined offer %(number)s", **p),
    "licensing.withdrawn": lambda p: _("%(org)s withdrew offer %(number)s", **p),
    "licensing.accepted": lambda p: _(
        "%(org)s accepted offer %(number)s: deal %(deal)s awaits signatures", **p),
    "licensing.sign_request": lambda p: _(
        "%(org)s signed deal %(deal)s; your signature is needed", **p),
    "licensing.signed": lambda p: _("Deal %(deal)s is signed by both sides", **p),
    "licensing.reverted": lambda p: _("The rights of deal %(deal)s revert from %(date)s", **p),
}


def register(app: Flask) -> None:
    from marketplace.notifications import register_kind

    for kind, render in TEXTS.items():
        register_kind(app, kind, render)
