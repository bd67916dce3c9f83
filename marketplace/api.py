"""The JSON API shell: ``/api/v1``, its OpenAPI document and RFC 9457 problem details.

Every context adds a ``flask_smorest.Blueprint`` through ``register(app, blp)``; the
OpenAPI document at ``/api/v1/openapi.json`` is generated from their schemas.
"""

from __future__ import annotations

from flask import Flask, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_smorest import Api as _Api
from flask_smorest import Blueprint
from flask_smorest.arguments import ArgumentsMixin
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

API_PREFIX = "/api/v1"
PROBLEM = "application/problem+json"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def problem(status: int, title: str, detail: str | None = None, **extra):
    """An RFC 9457 problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


class Api(_Api):
    """flask-smorest's Api with one error path for the whole application.

    flask-smorest installs its HTTPException handler app-wide; API paths get problem
    details, every other path gets the HTML error page.
    """

    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            return render_template("errors/error.html", error=error), error.code
        errors = None
        data = getattr(error, "data", None)
        if data and "messages" in data:
            errors = _flatten_field_errors(data["messages"])
        detail = error.description
        if errors:
            names = ", ".join(e["field"] for e in errors)
            detail = f"Invalid or missing field(s): {names}"
        return problem(error.code or 500, error.name, detail, errors=errors)


def _flatten_field_errors(messages) -> list[dict]:
    """webargs nests errors by location then field; flatten to ``[{field, message}]``."""
    out: list[dict] = []

    def walk(prefix, node):
        if isinstance(node, dict):
            for key, value in node.items():
                if prefix is None and key in ("json", "query", "form", "files", "headers"):
                    walk(None, value)  # the location adds nothing a caller can act on
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            out.append({"field": prefix or "body", "message": " ".join(node)})
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(f"{prefix}[{i}]", item)
        else:
            out.append({"field": prefix or "body", "message": str(node)})

    walk(None, messages)
    return out


api = Api()


def init_app(app: Flask) -> None:
    # A field that fails validation is a bad request naming the field (400), like bad JSON.
    ArgumentsMixin.ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS = 400
    api.init_app(app)
    # A body that is not JSON at all: say so before any schema runs.
    app.before_request(_reject_malformed_json)
    app.register_error_handler(OperationalError, _database_busy)


#: seconds a client is asked to wait when SQLite's write lock stayed taken
BUSY_RETRY_AFTER = 2


def _database_busy(error: OperationalError):
    """SQLite's write lock stayed taken past the busy timeout (or a read could not turn
    into a write): the request's transaction is rolled back, so nothing was saved. Say
    so and ask for a retry (503 with Retry-After) instead of a bare 500."""
    if "database is locked" not in str(error.orig):
        raise error
    from marketplace.extensions import db

    db.session.rollback()
    message = _l("The database was busy with other work and nothing was saved. "
                 "Please try again in a moment.")
    if is_api_request():
        response = problem(503, "Service Unavailable", str(message))
    elif request.method in ("POST", "PUT", "PATCH", "DELETE"):
        flash(message, "error")
        response = redirect(request.referrer or url_for("marketplace.index"), 303)
    else:
        busy = ServiceUnavailable(str(message))
        response = make_response(render_template("errors/error.html", error=busy), 503)
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


def _reject_malformed_json():
    if not is_api_request() or request.method not in ("POST", "PUT", "PATCH"):
        return None
    if request.mimetype == "application/json" and request.content_length:
        if request.get_json(silent=True) is None:
            return problem(400, "Bad Request", "The request body is not valid JSON.",
                           errors=[{"field": "body", "message": "Not valid JSON."}])
    return None


def register(blp: Blueprint) -> None:
    api.register_blueprint(blp)
