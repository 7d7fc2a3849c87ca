"""The OpenAPI 3.1 description of the web application's HTTP API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

COUNTERS = {"type": "object", "properties": {k: {"type": "integer"} for k in
                                             ("people", "masked", "unmasked", "mask_incorrect", "undecided")}
            | {"pct_masked": {"type": ["number", "null"], "description": "masked / decided people, %"}}}
LINE = {"type": "object", "properties": {"in": {"type": "integer"}, "out": {"type": "integer"},
                                         "zones": {"type": "object", "additionalProperties": {
                                             "type": "object", "properties": {"in": {"type": "integer"},
                                                                              "out": {"type": "integer"}}}}}}


def _get(summary: str, description: str, params: list | None = None, content: str = "application/json",
         schema: dict | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "description": description,
                          "responses": {"200": {"description": "OK", "content": {content: {"schema": schema or {}}}}}}
    if params:
        op["parameters"] = params
    return {"get": op}


def _q(name: str, description: str, type_: str = "integer") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": type_}}


def _p(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def openapi_document(version: str = "1") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "facemask", "version": version,
                 "description": "Face-mask counts of live cameras. When an access token is set, send it as "
                                "'Authorization: Bearer TOKEN' (or X-Facemask-Token, or ?token= once for a cookie)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Counters": COUNTERS, "Line": LINE}},
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/stats": _get("Counters now", "Totals over all cameras and, per camera, its state, frame rates, "
                               "busy_pct (the share of time processing rather than waiting for a newer frame), "
                               "latencies, faces in view and people counters (cumulative since the database was "
                               "created).", schema={"type": "object", "properties": {
                                   "time": {"type": "number"}, "totals": {"$ref": "#/components/schemas/Counters"},
                                   "cameras": {"type": "array", "items": {"type": "object"}}}}),
            "/api/events": _get("Person events", "Events oldest first with id > since; with since=0 the latest "
                                "`limit`. kind: track_started, person, static, decided, decision_changed, "
                                "track_ended (with the person's row).",
                                [_q("since", "last event id already seen"), _q("limit", "1..1000, default 100")]),
            "/api/history": _get("Counter samples", "Per camera, rows of cumulative counters since `hours` ago; "
                                 "`columns` names the row fields.", [_q("hours", "1..8784, default 24")],
                                 schema={"type": "object", "properties": {
                                     "columns": {"type": "array", "items": {"type": "string"}},
                                     "cameras": {"type": "object", "additionalProperties": {
                                         "type": "array", "items": {"type": "array"}}}}}),
            "/api/config": _get("Active config", "The config in effect; the token and stream credentials hidden."),
            "/api/alerts": _get("Alerts", "Alerts oldest first with id > since (the page's banner).",
                                [_q("since", "last alert id already seen"), _q("limit", "1..500, default 50")]),
            "/api/snapshots": _get("Snapshots", "The newest snapshot rows (person, camera, time, decision, url).",
                                   [_q("limit", "1..1000, default 100"), _q("camera", "only this camera", "string")]),
            "/api/snapshots/{person}.jpg": _get("One person's snapshot", "The best crop of a decided person "
                                                "(404 when none, or with privacy.store_images false).",
                                                [_p("person", "person id: camera/run/track")], content="image/jpeg"),
            "/api/people.csv": _get("People table", "One row per person that ended (from the events), CSV.",
                                    [_q("camera", "only this camera", "string"), _q("hours", "only the last hours")],
                                    content="text/csv"),
            "/api/line": _get("Line crossings", "Per camera with a counting line: in, out and per area.",
                              schema={"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Line"}}),
            "/api/openapi.json": _get("This document", "OpenAPI 3.1."),
            "/healthz": _get("Health", "status ok when every camera runs, else degraded (HTTP 200 either way)."),
            "/metrics": _get("Prometheus metrics", "Text exposition format.", content="text/plain"),
            "/video/{name}.mjpg": _get("Live video", "MJPEG stream of the annotated camera picture.",
                                       [_p("name", "camera name")], content="multipart/x-mixed-replace"),
            "/snapshot/{name}.jpg": _get("Latest picture", "The camera's latest annotated frame.",
                                         [_p("name", "camera name")], content="image/jpeg"),
            "/camera/{name}": _get("Camera page", "The page of one camera (fullscreen button).",
                                   [_p("name", "camera name")], content="text/html"),
        },
    }
