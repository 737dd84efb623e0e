"""The pages: each calls the domain functions its API endpoint calls, and renders HTML.

Input comes from query strings and forms; whatever the domain refuses (InvalidRequest,
NotFound, Conflict...) becomes a 4xx page saying why (auth.py's handlers), never a 500.
Form fields are validated by the API's own request models where there is one, so a hold
placed here is the hold the API would have placed.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import select

from archiver import audit
from archiver.api.context import api
from archiver.api.items import history_out
from archiver.api.retention_models import HoldIn, ReleaseIn
from archiver.catalog import schema as t
from archiver.errors import InvalidRequest, NotFound, Unauthorized
from archiver.items import item_history
from archiver.records import MAX_ID_CHARS
from archiver.search.engine import FACETS
from archiver.search.query import SearchRequest, search
from archiver.tokens import verify_token
from archiver.web import auth, oidc
from archiver.web.auth import note_resource, page_error
from archiver.web.diff import side_by_side
from archiver.web.templating import url_with
from archiver.web.verification import Verifications

SEARCH_PARAMS = ("q", "platform", "account", "kind", "event", "author", "date_field", "from",
                 "to", "has_edits", "deleted", "hidden", "sort", "cursor")
PAGE_SIZE = 20
FORM_LIMIT = 2000  # characters in any one form field


def _actor() -> str:
    p = g.principal
    return f"{p.name} ({p.id})"


def _form(name: str, *, required: bool = False) -> str | None:
    value = request.form.get(name, "").strip()
    if len(value) > FORM_LIMIT or "\x00" in value:
        raise InvalidRequest(_("%(field)s is too long or holds a NUL character", field=name))
    if required and not value:
        raise InvalidRequest(_("%(field)s is required", field=name))
    return value or None


def _invalid(exc: ValidationError) -> InvalidRequest:
    reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return InvalidRequest(reasons)


def _lines(name: str) -> list[str] | None:
    """A form field of names, one per line or comma-separated."""
    value = _form(name)
    if not value:
        return None
    return [v.strip() for v in value.replace(",", "\n").splitlines() if v.strip()]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and \
            "\\" not in target:
        return target
    return url_for("web.home")


def _verifications() -> Verifications:
    return api().cache.setdefault("web.verifications", Verifications(api().archive))


def _export_runner() -> Any:
    from archiver.exports import jobs
    return api().cache.setdefault("exports", jobs.ExportRunner(api().archive))


def _home_target() -> str:
    for endpoint in ("web.search", "web.holds", "web.integrity", "web.runs", "web.accounts"):
        if auth.may(endpoint):
            return url_for(endpoint)
    return url_for("web.signin")


def blueprint() -> Blueprint:
    bp = Blueprint("web", __name__, url_prefix="", static_folder="static",
                   static_url_path="/static", template_folder="templates")

    # ---- signing in and out ------------------------------------------------------------
    @bp.get("/")
    def home() -> Response:
        return redirect(_home_target())

    @bp.route("/signin", methods=["GET", "POST"])
    def signin() -> Any:
        settings = api().settings
        status, message = 200, None
        if request.method == "POST":
            value = (request.form.get("token") or "").strip()
            try:
                info = verify_token(api().archive.catalog, value)
            except Unauthorized:
                status, message = 401, _("That token is not valid (mistyped, or revoked).")
            else:
                auth.sign_in("token", info, settings.web.session_hours)
                return redirect(_safe_next(request.args.get("next")))
        return render_template("signin.html", message=message,
                               oidc=bool(settings.web.oidc_issuer),
                               next=request.args.get("next", "")), status

    @bp.get("/signin/oidc")
    def signin_oidc() -> Any:
        return oidc.start(_safe_next(request.args.get("next")))

    @bp.get("/signin/oidc/callback")
    def oidc_callback() -> Any:
        from flask import session
        if not any(k.startswith("_state_") for k in session) and \
                not request.args.get("bounced"):
            # The provider's redirect is a cross-site navigation, which a SameSite=Strict
            # cookie does not ride on: load once more from this site, and it does.
            again = url_with(bounced="1")
            return render_template("bounce.html", target=again)
        return redirect(oidc.finish(api().settings))

    @bp.post("/signout")
    def signout() -> Response:
        from flask import session
        session.clear()
        return redirect(url_for("web.signin"))

    # ---- search and items --------------------------------------------------------------
    @bp.get("/search", endpoint="search")
    def search_page() -> Any:
        args = {k: v.strip() for k, v in request.args.items() if k in SEARCH_PARAMS
                and v.strip()}
        unknown = sorted(set(request.args) - set(SEARCH_PARAMS) - {"lang"})
        result, error, status = None, None, 200
        try:
            if unknown:
                raise InvalidRequest(_("unknown parameter(s): %(names)s",
                                       names=", ".join(unknown)))
            req = SearchRequest.from_params({**args, "collapse": "true",
                                             "limit": str(PAGE_SIZE),
                                             "facets": ",".join(FACETS)})
            note_resource(**{k: v for k, v in args.items() if k != "cursor"})
            ctx = api()
            result = search(ctx.index, ctx.archive, req)
        except InvalidRequest as exc:
            error, status = str(exc), 400
        return render_template("search.html", args=args, result=result, error=error,
                               facets=FACETS), status

    @bp.get("/items/<platform>/<path:item_id>", endpoint="item")
    def item_page(platform: str, item_id: str) -> Any:
        if len(platform) > 64 or len(item_id) > MAX_ID_CHARS or "\x00" in platform + item_id:
            raise InvalidRequest(_("that is not an item id"))
        note_resource(platform=platform, item_id=item_id)
        history = history_out(item_history(api().archive.appender, platform, item_id))
        seqs = [e.seq for e in history.events]
        with api().archive.catalog.reader() as conn:
            hashes = {r.seq: r.record_hash.hex() for r in conn.execute(
                select(t.records.c.seq, t.records.c.record_hash)
                .where(t.records.c.seq.in_(seqs)))} if seqs else {}
        versions = history.versions
        pairs = []
        for before, after in zip(versions, versions[1:], strict=False):
            old = (before.payload or {}).get("text") or ""
            new = (after.payload or {}).get("text") or ""
            pairs.append((before, after, *side_by_side(old, new)))
        marks = [(e, _observed_at(e.seq)) for e in history.events
                 if e.event in ("deleted", "hidden", "restored")]
        return render_template("item.html", h=history, pairs=pairs, marks=marks,
                               hashes=hashes, latest=_latest_payload(versions))

    @bp.get("/media/<media_id>", endpoint="media")
    def media_page(media_id: str) -> Response:
        from archiver.api.media import _INLINE_TYPES
        from archiver.log.reader import read_media
        if len(media_id) != 32 or any(c not in "0123456789abcdef" for c in media_id):
            raise InvalidRequest(_("that is not a media id"))
        note_resource(media_id=media_id)
        media = read_media(api().archive.appender, media_id)
        mime = media.mime if media.mime in _INLINE_TYPES else "application/octet-stream"
        response = Response(media.data, mimetype=mime)
        response.set_etag(media.sha256)
        response.headers["Content-Security-Policy"] = "sandbox"
        response.headers["Cache-Control"] = "private, no-store"
        return response.make_conditional(request, accept_ranges=True,
                                         complete_length=len(media.data))

    @bp.get("/proofs/<int:seq>", endpoint="proof")
    def proof_page(seq: int) -> Any:
        from archiver.log.proofs import checkpoint_note, inclusion_proof
        note_resource(seq=seq)
        appender = api().archive.appender
        proof = inclusion_proof(appender, seq, None)
        note = checkpoint_note(appender, proof["tree_size"])
        with api().archive.catalog.reader() as conn:
            row = conn.execute(select(t.records).where(t.records.c.seq == seq)).first()
        return render_template("proof.html", seq=seq, proof=proof, row=row,
                               note=note.decode() if isinstance(note, bytes) else note,
                               vkey=appender.p.signer.vkey())

    # ---- accounts ----------------------------------------------------------------------
    @bp.get("/accounts", endpoint="accounts")
    def accounts_page() -> Any:
        from archiver.collectors import accounts as acc
        from archiver.collectors.health import account_health
        found = acc.list_accounts(api().archive.catalog)
        rows = [(a, account_health(api().archive, a.id)) for a in found]
        return render_template("accounts.html", rows=rows)

    # ---- retention, holds, disposition -------------------------------------------------
    @bp.get("/retention", endpoint="retention")
    def retention_page() -> Any:
        from archiver.retention_store import policy_out
        with api().archive.catalog.reader() as conn:
            rows = conn.execute(select(t.retention_policies)
                                .order_by(t.retention_policies.c.created_at)).all()
        policies = [policy_out(r) for r in rows]
        return render_template("retention.html", policies=policies)

    @bp.get("/holds", endpoint="holds")
    def holds_page() -> Any:
        from archiver.retention_store import hold_out
        with api().archive.catalog.reader() as conn:
            rows = conn.execute(select(t.legal_holds)
                                .order_by(t.legal_holds.c.placed_at.desc())).all()
        return render_template("holds.html", holds=[hold_out(r) for r in rows],
                               saved=request.args.get("saved"))

    @bp.post("/holds", endpoint="place_hold")
    def place_hold_page() -> Response:
        from archiver.retention_store import place_hold
        scope = {"accounts": _lines("accounts"), "platforms": _lines("platforms"),
                 "kinds": _lines("kinds"), "query": _form("query"),
                 "date_from": _form("date_from"), "date_to": _form("date_to")}
        doc = {"matter_name": _form("matter_name", required=True),
               "matter_number": _form("matter_number", required=True),
               "description": _form("description"), "reason": _form("reason"),
               "authority": _form("authority"),
               "scope": {k: v for k, v in scope.items() if v}}
        try:
            body = HoldIn.model_validate({k: v for k, v in doc.items() if v is not None})
        except ValidationError as exc:
            raise _invalid(exc) from None
        hold = place_hold(api().archive.appender, body.model_dump(exclude_none=True), _actor())
        note_resource(hold_id=hold["id"])
        _sync_holds()
        return redirect(url_for("web.holds", saved=hold["id"]))

    @bp.post("/holds/<hold_id>/release", endpoint="release_hold")
    def release_hold_page(hold_id: str) -> Response:
        from archiver.retention_store import release_hold
        note_resource(hold_id=hold_id)
        try:
            body = ReleaseIn.model_validate({"reason": _form("reason", required=True)})
        except ValidationError as exc:
            raise _invalid(exc) from None
        release_hold(api().archive.appender, hold_id[:64], _actor(), body.reason)
        _sync_holds()
        return redirect(url_for("web.holds", saved=hold_id))

    @bp.get("/disposition", endpoint="runs")
    def runs_page() -> Any:
        from archiver.disposal import list_runs
        return render_template("runs.html", runs=list_runs(api().archive))

    @bp.post("/disposition", endpoint="create_run")
    def create_run_page() -> Response:
        from archiver.disposal import create_run
        tombstone = _form("tombstone") or "metadata"
        if tombstone not in ("metadata", "bare"):
            raise InvalidRequest(_("tombstone is metadata or bare"))
        run = create_run(api().archive, _disposal_actor(), tombstone=tombstone)
        note_resource(run_id=run["id"])
        return redirect(url_for("web.run", run_id=run["id"]))

    @bp.get("/disposition/<run_id>", endpoint="run")
    def run_page(run_id: str) -> Any:
        from archiver.disposal import get_run
        note_resource(run_id=run_id)
        run = get_run(api().archive, run_id[:64], items=True)
        return render_template("run.html", run=run)

    @bp.post("/disposition/<run_id>/approve", endpoint="approve_run")
    def approve_run_page(run_id: str) -> Response:
        from archiver.disposal import approve_run
        note_resource(run_id=run_id)
        approve_run(api().archive, run_id[:64], _disposal_actor())
        return redirect(url_for("web.run", run_id=run_id))

    @bp.post("/disposition/<run_id>/execute", endpoint="execute_run")
    def execute_run_page(run_id: str) -> Response:
        from archiver.disposal import execute_run
        note_resource(run_id=run_id)
        execute_run(api().archive, run_id[:64], _disposal_actor())
        return redirect(url_for("web.run", run_id=run_id))

    @bp.get("/disposition/<run_id>/certificate", endpoint="certificate")
    def certificate_page(run_id: str) -> Response:
        from archiver.api.disposition import _certificate
        from archiver.disposal import render_certificate_html
        note_resource(run_id=run_id)
        html = render_certificate_html(_certificate(run_id[:64]))
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src " \
                                                      "'unsafe-inline'"
        return response

    # ---- exports -----------------------------------------------------------------------
    @bp.get("/exports", endpoint="exports")
    def exports_page() -> Any:
        from archiver.exports import jobs
        from archiver.retention_store import hold_out
        with api().archive.catalog.reader() as conn:
            ids = [r.id for r in conn.execute(select(jobs.exports.c.id)
                                              .order_by(jobs.exports.c.requested_at.desc())
                                              .limit(100))]
            every = [hold_out(r) for r in conn.execute(
                select(t.legal_holds).order_by(t.legal_holds.c.placed_at.desc()))]
        found = [jobs.get_export(api().archive, i) for i in ids]
        return render_template("exports.html", exports=found,
                               holds=[h for h in every if h["active"]],
                               matters={h["id"]: h["matter_name"] for h in every},
                               hold=request.args.get("hold", ""),
                               search={k: request.args.get(k, "")
                                       for k in ("q", "platform", "account")})

    @bp.post("/exports", endpoint="start_export")
    def start_export_page() -> Response:
        from archiver.exports import jobs
        from archiver.exports.bag import ExportOptions
        from archiver.exports.scope import ExportScope
        hold, query = _form("hold"), _form("query")
        filters = {k: v for k in ("platform", "account", "kind", "event")
                   if (v := _form(k))}
        scope = ExportScope(hold=hold, query=query if not hold else None,
                            filters=filters if not hold else {})
        pdf = request.form.get("pdf") == "on"  # an unticked box sends nothing
        job = jobs.create_export(api().archive, scope, ExportOptions(pdf=pdf), _actor())
        note_resource(export_id=job.id)
        _export_runner().submit(job.id)
        return redirect(url_for("web.export", export_id=job.id))

    @bp.get("/exports/<export_id>", endpoint="export")
    def export_page(export_id: str) -> Any:
        from archiver.exports import jobs
        note_resource(export_id=export_id)
        job = jobs.get_export(api().archive, export_id[:64])
        if request.args.get("format") == "json":
            return jsonify({"id": job.id, "state": job.state, "done": job.done,
                            "total": job.total, "error": job.error})
        return render_template("export.html", job=job)

    @bp.get("/exports/<export_id>/download", endpoint="download_export")
    def download_export_page(export_id: str) -> Response:
        from archiver.exports import jobs
        note_resource(export_id=export_id)
        job, file = jobs.download(api().archive, export_id[:64])
        response = send_file(file, mimetype="application/zip", as_attachment=True,
                             download_name=f"{job.id}.zip", conditional=False, etag=False)
        response.headers["X-Content-SHA256"] = job.sha256 or ""
        response.headers["Cache-Control"] = "private, no-store"
        return response

    # ---- integrity ---------------------------------------------------------------------
    @bp.get("/integrity", endpoint="integrity")
    def integrity_page() -> Any:
        from archiver.log.proofs import checkpoint_note
        appender = api().archive.appender
        try:
            note = checkpoint_note(appender, None)
            checkpoint = note.decode() if isinstance(note, bytes) else note
        except NotFound:
            checkpoint = None
        filters, page, error, status = _audit_page()
        return render_template("integrity.html", checkpoint=checkpoint,
                               vkey=appender.p.signer.vkey(), runs=_verifications().runs(),
                               filters=filters, page=page, error=error), status

    @bp.post("/integrity/verify", endpoint="verify_now")
    def verify_now_page() -> Response:
        run = _verifications().start(_actor())
        note_resource(verification=run["id"])
        return redirect(url_for("web.integrity", started=run["id"]))

    @bp.app_template_global()
    def payload_media(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The media entries of a payload that the archive stored (object media/<id>)."""
        out = []
        for m in (payload or {}).get("media") or []:
            obj = m.get("object") if isinstance(m, dict) else None
            if isinstance(obj, str) and obj.startswith("media/"):
                out.append({**m, "media_id": obj.removeprefix("media/")})
            elif isinstance(m, dict):
                out.append({**m, "media_id": None})
        return out

    @bp.app_template_filter("pretty")
    def pretty(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)

    return bp


def _observed_at(seq: int) -> str | None:
    """When the collector saw a deletion or hide (the record says; None once destroyed)."""
    from archiver.log.reader import read_record
    payload = read_record(api().archive.appender, seq).payload or {}
    value = payload.get("observed_at")
    return value if isinstance(value, str) else None


def _latest_payload(versions: list[Any]) -> dict[str, Any] | None:
    for v in reversed(versions):
        if v.payload is not None:
            return v.payload
    return None


def _disposal_actor() -> Any:
    from archiver.disposal import Actor
    return Actor(g.principal.name, g.principal.id)


def _sync_holds() -> None:
    """S3 object legal holds follow the catalog, as after the API's hold calls."""
    from archiver.api.holds import _object_holds
    result = _object_holds()
    if "error" in result:
        current_app.logger.warning("hold placed; %s", result["error"])


def _audit_page() -> tuple[dict[str, str], Any, str | None, int]:
    """The audit trail filtered as the form says (the API's filters)."""
    from datetime import datetime
    names = ("since", "until", "actor", "action", "path", "outcome", "cursor")
    filters = {k: request.args.get(k, "").strip() for k in names}
    try:
        def moment(name: str) -> datetime | None:
            text = filters[name]
            if not text:
                return None
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise InvalidRequest(_("%(field)s is not a date or time", field=name)) \
                    from None
            if value.tzinfo is None:
                from datetime import UTC
                value = value.replace(tzinfo=UTC)
            return value
        if any(len(v) > 2048 or "\x00" in v for v in filters.values()):
            raise InvalidRequest(_("a filter is too long or holds a NUL character"))
        query = audit.AuditQuery(since=moment("since"), until=moment("until"),
                                 actor=filters["actor"] or None,
                                 action=filters["action"] or None,
                                 path=filters["path"] or None,
                                 outcome=filters["outcome"] or None,  # type: ignore[arg-type]
                                 cursor=filters["cursor"] or None, limit=100)
        return filters, audit.search(api().archive.catalog, query), None, 200
    except InvalidRequest as exc:
        return filters, None, str(exc), 400


__all__ = ["blueprint", "page_error"]
