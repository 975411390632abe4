"""Recognition pages: a person's badges, the team's wall, managers' awards and withdrawals,
and the badge catalogue (trainers add badges there). Thin: parse, call a service, render."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from functools import partial

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from core.auth import STAFF, Forbidden, Role, Viewer, require_viewer, roles_required
from core.db import db, utcnow
from core.forms import ActionForm
from core.urls import path_of_same_origin
from courses.services import catalogue
from lms import keys
from lms.models import Platform
from people.guards import require_person
from people.models import Team, User
from recognition.forms import AwardForm, BadgeForm, RevokeForm
from recognition.images import ImageInvalid, check_image
from recognition.models import Award, AwardEvent, Badge
from recognition.openbadges import (
    Issuer,
    achievement,
    assertion,
    badge_class,
    bake,
    bake_ob2,
    credential,
    issuer_email,
    issuer_profile,
    recipient_identity,
    sign_vc_jwt,
    status_list_credential,
    verification_key,
)
from recognition.rules import RuleInvalid, explain
from recognition.services import (
    AWARDERS,
    RecognitionError,
    add_badge,
    award_by_public_id,
    award_kudos,
    awards_of,
    next_badges,
    revoke,
    set_hidden,
    team_members_for_awards,
    visible_badges,
    wall,
)

bp = Blueprint("recognition", __name__, template_folder="templates")


def _viewer_user() -> tuple[Viewer, User]:
    return require_person("Recognition is for people launched from a course.")


def _tenant_award(public_id: str, viewer: Viewer) -> Award:
    """An award of a team the viewer's authority covers (their course context; an
    administrator's whole deployment); anything else is Not Found."""
    award = award_by_public_id(db.session, public_id)
    team = db.session.get(Team, award.team_id) if award and award.team_id else None
    if (
        award is None
        or team is None
        or team.deployment_id != viewer.deployment_id
        or not viewer.governs(team.id)
    ):
        abort(404)
    return award


def _received_award(public_id: str, user: User) -> Award:
    """An award the person received; other people's awards are Not Found to them."""
    award = award_by_public_id(db.session, public_id)
    if award is None or award.user_id != user.id:
        abort(404)
    return award


@bp.errorhandler(RecognitionError)
def _refused(error: RecognitionError) -> WerkzeugResponse:
    db.session.rollback()
    flash(str(error), "error")
    return redirect(path_of_same_origin(request.referrer, request.host_url) or url_for(".mine"))


def _explainer(platform_id: int) -> Callable[[dict[str, object]], str]:
    """``explain`` naming courses by their titles."""
    titles = {course.slug: course.title for course in catalogue(db.session, platform_id)}
    return partial(explain, titles=titles)


@bp.get("/recognition/")
def mine() -> str:
    viewer, user = _viewer_user()
    return render_template(
        "recognition/mine.html",
        viewer=viewer,
        user=user,
        awards=awards_of(db.session, user.id),
        upcoming=next_badges(db.session, user)[:6],
        explain=_explainer(viewer.platform_id),
        form=ActionForm(),
    )


@bp.get("/recognition/export.json")
def export() -> Response:
    """Everything about the person's badges, as they can take it elsewhere."""
    _, user = _viewer_user()
    data = [
        {
            "badge": award.badge.name,
            "description": award.badge.description,
            "criteria": award.badge.criteria,
            "issued": award.issued_at.isoformat(),
            "by": award.awarded_by.display_name if award.awarded_by else "automatic",
            "message": award.message,
            "revoked": award.revoked_at.isoformat() if award.revoked_at else None,
            "credential": url_for(
                "recognition.credential_json", public_id=award.public_id, _external=True
            ),
        }
        for award in awards_of(db.session, user.id)
    ]
    return Response(
        json.dumps({"name": user.display_name, "awards": data}, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-badges.json"'},
    )


@bp.post("/recognition/awards/<public_id>/visibility")
def visibility(public_id: str) -> WerkzeugResponse:
    _viewer, user = _viewer_user()
    award = _received_award(public_id, user)
    set_hidden(db.session, award, user, request.form.get("hidden") == "1")
    db.session.commit()
    flash(
        "Hidden from the team's wall." if award.hidden_from_wall else "Shown on the team's wall.",
        "success",
    )
    return redirect(url_for(".mine"))


@bp.get("/recognition/wall")
def team_wall() -> str:
    viewer, _user = _viewer_user()
    team = db.session.get(Team, viewer.team_id) if viewer.team_id else None
    return render_template(
        "recognition/wall.html",
        viewer=viewer,
        team=team,
        awards=wall(db.session, team.id) if team else [],
        can_award=viewer.role in AWARDERS,
    )


@bp.route("/recognition/award", methods=["GET", "POST"])
@roles_required(*AWARDERS)
def award() -> str | tuple[str, int] | WerkzeugResponse:
    viewer, manager = _viewer_user()
    teams = viewer.teams_governed or ()
    if not teams:
        raise Forbidden("Open this from your team's course to recognise its people.")
    form = AwardForm()
    # The choices are only shown: award_kudos checks the person and the badge itself, so a
    # valid POST does not read the team and the badges for them.
    if request.method == "POST" and form.validate_on_submit():
        try:
            given = award_kudos(
                db.session,
                manager=manager,
                team_ids=teams,
                recipient_id=form.recipient.data or 0,
                badge_id=form.badge.data or 0,
                message=form.message.data or "",
                request_id=form.request_id.data or "",
            )
        except RecognitionError as refused:
            # Shown next to the field it is about, with the form as it was filled in.
            db.session.rollback()
            _award_errors(form, refused).append(str(refused))
        else:
            # Worded before the commit expires the award and its person and badge.
            said = f"You recognised {given.user.display_name}: {given.badge.name}."
            db.session.commit()
            flash(said, "success")
            return redirect(url_for(".team_wall"))
    members = team_members_for_awards(db.session, teams, manager.id)
    badges = [b for b in visible_badges(db.session, viewer.platform_id) if b.manager_awardable]
    form.recipient.choices = [SelectChoice("", "Choose a person…")] + [
        SelectChoice(person.id, person.display_name) for person in members
    ]
    form.badge.choices = [SelectChoice("", "Choose a badge…")] + [
        SelectChoice(b.id, b.name) for b in badges
    ]
    if request.method == "GET":
        form.request_id.data = uuid.uuid4().hex
    status = 400 if request.method == "POST" else 200
    return render_template(
        "recognition/award.html", viewer=viewer, form=form, badges=badges, members=members
    ), status


def _award_errors(form: AwardForm, refused: RecognitionError) -> list[str]:
    """The error list of the award form's field a refusal is about (the message, the person
    or the badge); the form's own errors for a refusal of the whole form (a resent form)."""
    if refused.field and refused.field in form:
        return form[refused.field].errors
    return form.form_errors


@bp.route("/recognition/awards/<public_id>/revoke", methods=["GET", "POST"])
@roles_required(*AWARDERS, Role.ADMINISTRATOR)
def withdraw(public_id: str) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, actor = _viewer_user()
    given = _tenant_award(public_id, viewer)
    form = RevokeForm()
    if form.validate_on_submit():
        revoke(
            db.session,
            given,
            actor=actor,
            actor_role=viewer.role,
            reason=form.reason.data or "",
            publish_reason=bool(form.publish_reason.data),
        )
        db.session.commit()
        flash(f"Withdrawn: {given.badge.name} for {given.user.display_name}.", "success")
        return redirect(url_for(".team_wall"))
    return render_template(
        "recognition/revoke.html", viewer=viewer, award=given, form=form
    ), 400 if request.method == "POST" else 200


@bp.route("/recognition/badges", methods=["GET", "POST"])
def badges() -> str | tuple[str, int] | WerkzeugResponse:
    viewer, user = _viewer_user()
    form = BadgeForm() if viewer.role in STAFF else None
    status = 200
    if form is not None:
        form.course.choices = [SelectChoice("*", "Any course")] + [
            SelectChoice(c.slug, c.title) for c in catalogue(db.session, viewer.platform_id)
        ]
        if request.method == "POST":
            if form.validate_on_submit():
                upload = form.image.data
                try:
                    data = upload.read(300_000)
                    data, media = check_image(data, upload.filename or "")
                    badge = add_badge(
                        db.session,
                        platform_id=viewer.platform_id,
                        creator=user,
                        name=form.name.data or "",
                        description=form.description.data or "",
                        criteria=form.criteria.data or "",
                        image=data,
                        image_type=media,
                        rule=form.rule(),
                        manager_awardable=bool(form.manager_awardable.data),
                    )
                except (ImageInvalid, RuleInvalid, RecognitionError) as error:
                    db.session.rollback()
                    _badge_errors(form, error).append(str(error))
                    status = 400
                else:
                    db.session.commit()
                    flash(f"Added the badge {badge.name}.", "success")
                    return redirect(url_for(".badges"))
            else:
                status = 400
    elif request.method == "POST":
        raise Forbidden()
    return render_template(
        "recognition/badges.html",
        viewer=viewer,
        badges=visible_badges(db.session, viewer.platform_id),
        form=form,
        explain=_explainer(viewer.platform_id),
    ), status


RULE_VALUE_FIELDS = ("course", "count", "score", "skill", "level", "times", "deviation")


def _badge_errors(form: BadgeForm, error: Exception) -> list[str]:
    """The errors of the badge form's field a refusal is about, to show it there: the image,
    the rule's value it names ("level: …", "'times' is a required property"), else the rule."""
    if isinstance(error, ImageInvalid):
        return form.image.errors
    if isinstance(error, RuleInvalid):
        named = re.match(r"(\w+):", str(error)) or re.search(r"'(\w+)' is a required", str(error))
        value = named.group(1) if named else ""
        if value in RULE_VALUE_FIELDS:
            return form[value].errors
    return form.rule_type.errors


@bp.get("/recognition/audit")
@roles_required(*STAFF)
def audit() -> str:
    viewer = require_viewer()
    query = (
        select(AwardEvent)
        .join(Award, Award.id == AwardEvent.award_id)
        .join(Team, Team.id == Award.team_id)
        .where(Award.platform_id == viewer.platform_id, Team.deployment_id == viewer.deployment_id)
    )
    if viewer.teams_governed is not None:  # a trainer reads their own teams' log only
        query = query.where(Team.id.in_(viewer.teams_governed))
    events = db.session.scalars(
        query.order_by(AwardEvent.recorded_at.desc(), AwardEvent.id.desc()).limit(200)
    ).all()
    awards = {
        a.id: a
        for a in db.session.scalars(
            select(Award)
            .where(Award.id.in_({e.award_id for e in events}))
            .options(selectinload(Award.badge), selectinload(Award.user))
        )
    }
    actors = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id}))
        )
    }
    return render_template(
        "recognition/audit.html", viewer=viewer, events=events, awards=awards, actors=actors
    )


@bp.get("/badges/<string(length=36):public_id>/image")
def badge_image(public_id: str) -> Response:
    """Public: credentials and backpacks show the image."""
    badge = _badge_or_404(public_id)
    response = Response(badge.image, mimetype=badge.image_type)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# -- Open Badges (public: the ids are unguessable, the documents hold hashed identities) ----


def _issuer() -> Issuer:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    email = issuer_email(current_app.config.get("BADGE_ISSUER_EMAIL") or "", base)
    return Issuer(base, current_app.config["ORGANISATION_NAME"], email)


def _public_award(public_id: str) -> Award:
    award = award_by_public_id(db.session, public_id)
    if award is None:
        abort(404)
    return award


def _identity(award: Award) -> tuple[str, str]:
    platform = db.session.get(Platform, award.platform_id)
    return recipient_identity(award.user.email, platform.issuer if platform else "", award.user.sub)


def _signed(award: Award) -> str:
    key = keys.active_key(db.session)
    issuer = _issuer()
    document = credential(award, award.badge, issuer, _identity(award))
    private_key = keys.load_private_key(key.kid, key.private_pem)
    return sign_vc_jwt(document, private_key, issuer.key_url(key.kid))


def _json(data: object, status: int = 200, mimetype: str = "application/json") -> Response:
    response = Response(json.dumps(data, indent=2), status=status, mimetype=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"  # verifiers and backpacks fetch these
    return response


@bp.get("/badges/credentials/<public_id>.json")
def credential_json(public_id: str) -> Response:
    award = _public_award(public_id)
    return _json(
        credential(award, award.badge, _issuer(), _identity(award)), mimetype="application/ld+json"
    )


@bp.get("/badges/credentials/<public_id>.jwt")
def credential_jwt(public_id: str) -> Response:
    response = Response(_signed(_public_award(public_id)), mimetype="application/vc+jwt")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/badges/credentials/<public_id>/image")
def baked(public_id: str) -> Response:
    award = _public_award(public_id)
    verify_url = url_for("recognition.verify", public_id=public_id, _external=True)
    data, media = bake(award, award.badge, verify_url, _signed(award))
    extension = "svg" if media == "image/svg+xml" else "png"
    response = Response(data, mimetype=media)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="badge-{public_id[:8]}.{extension}"'
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _status(award: Award | None) -> str:
    if award is None:
        return "unknown"
    return "revoked" if award.revoked_at is not None else "valid"


def _holder_name(award: Award | None) -> str | None:
    """The holder's name for the public verification page, as they chose to share it: not
    for a badge they hid from view, nor once it is withdrawn, nor an LMS identifier in
    place of a name."""
    if award is None or award.revoked_at is not None or award.hidden_from_wall:
        return None
    person = award.user
    return person.name or " ".join(p for p in (person.given_name, person.family_name) if p) or None


@bp.get("/badges/verify/<public_id>")
def verify(public_id: str) -> tuple[str, int]:
    award = award_by_public_id(db.session, public_id)
    return render_template(
        "recognition/verify.html",
        award=award,
        status=_status(award),
        issuer=_issuer(),
        holder=_holder_name(award),
    ), 200 if award else 404


@bp.get("/badges/verify/<public_id>.json")
def verify_json(public_id: str) -> Response:
    award = award_by_public_id(db.session, public_id)
    data: dict[str, object] = {"status": _status(award)}
    if award is not None:
        data |= {
            "credential": f"urn:uuid:{award.public_id}",
            "badge": award.badge.name,
            "issuer": _issuer().name,
            "validFrom": award.issued_at.isoformat(),
        }
        if award.revoked_at is not None:
            data["revokedAt"] = award.revoked_at.isoformat()
            if award.revoked_reason_public:
                data["revocationReason"] = award.revoked_reason
    return _json(data, 200 if award else 404)


@bp.get("/badges/status/revocation")
def status_list() -> Response:
    revoked = set(db.session.scalars(select(Award.id).where(Award.revoked_at.is_not(None))))
    key = keys.active_key(db.session)
    issuer = _issuer()
    document = status_list_credential(issuer, revoked, utcnow())
    private_key = keys.load_private_key(key.kid, key.private_pem)
    token = sign_vc_jwt(document, private_key, issuer.key_url(key.kid))
    response = Response(token, mimetype="application/vc+jwt")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/badges/issuer")
def issuer() -> Response:
    kids = [key.kid for key in keys.published_keys(db.session)]
    return _json(issuer_profile(_issuer(), kids))


@bp.get("/badges/keys/<kid>")
def verification_key_json(kid: str) -> Response:
    """The public key a credential's ``kid`` names, as a JWK: what a verifier fetches."""
    key = next((k for k in keys.published_keys(db.session) if k.kid == kid), None)
    if key is None:
        abort(404)
    response = _json(verification_key(_issuer(), key.public_jwk))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


def _badge_or_404(public_id: str) -> Badge:
    badge = db.session.scalar(select(Badge).where(Badge.public_id == public_id))
    if badge is None:
        abort(404)
    return badge


@bp.get("/badges/classes/<string(length=36):public_id>")
def badge_class_json(public_id: str) -> Response:
    return _json(badge_class(_badge_or_404(public_id), _issuer()))


@bp.get("/badges/achievements/<string(length=36):public_id>")
def achievement_json(public_id: str) -> Response:
    return _json(achievement(_badge_or_404(public_id), _issuer()), mimetype="application/ld+json")


LEGACY_BADGE_ENDPOINTS = {
    "classes": "recognition.badge_class_json",
    "achievements": "recognition.achievement_json",
    "image": "recognition.badge_image",
}


@bp.get("/badges/<any(classes, achievements):kind>/<int:badge_id>")
@bp.get("/badges/<int:badge_id>/<any(image):kind>")
def legacy_badge(kind: str, badge_id: int) -> WerkzeugResponse:
    """The row-id URLs of credentials issued before badges had public ids. Built-in badges are
    the same in every LMS, so their old URLs lead on; an LMS's own badges are Not Found by
    row id, or counting through the ids would list every LMS's badge names again."""
    badge = db.session.get(Badge, badge_id)
    if badge is None or badge.platform_id is not None:
        abort(404)
    return redirect(url_for(LEGACY_BADGE_ENDPOINTS[kind], public_id=badge.public_id), code=301)


@bp.get("/badges/assertions/<public_id>")
def assertion_json(public_id: str) -> Response:
    award = _public_award(public_id)
    return _json(
        assertion(award, award.badge, _issuer(), _identity(award)),
        410 if award.revoked_at is not None else 200,
    )


@bp.get("/badges/assertions/<public_id>/image")
def assertion_image(public_id: str) -> Response:
    award = _public_award(public_id)
    return Response(bake_ob2(award.badge, _issuer().assertion_url(award)), mimetype="image/png")
