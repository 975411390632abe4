"""Recognition: the badge catalogue, managers' awards, automatic awards, revocation, the wall.

Plain functions over a session; the caller commits. Every award and revocation appends an
``AwardEvent``. Tenancy: a badge is built in or belongs to one LMS platform; an award is made
only to a member of the manager's own team, in the manager's platform.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy import insert as sa_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from assessments.calibration import calibration_deviations
from assessments.grading import skill_levels
from core.auth import STAFF, Role
from core.db import added, insert_for, utcnow
from courses.models import Course, CourseResult, Enrolment
from people.models import Membership, User
from recognition.images import medal_svg
from recognition.models import KUDOS, Award, AwardEvent, Badge
from recognition.rules import SKILL_LABELS, Facts, Progress, holds, progress, validate_rule

# Who recognises people of the teams they govern (an administrator may withdraw an award, not
# give one): the award page, its dashboard panel and the wall's award button.
AWARDERS = (Role.MANAGER, Role.TRAINER)
MESSAGE_LIMIT = 500
REASON_LIMIT = 500


class RecognitionError(ValueError):
    """A request the rules refuse; the message is safe to show. ``field`` names the form
    field the refusal is about ("message", "recipient", "badge", "reason"), so a form can
    show it beside that field; None for a refusal of the request as a whole."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- the catalogue ---------------------------------------------------------------------------

KUDOS_BADGES = (
    (
        "kudos-customer-hero",
        "Customer hero",
        "Went out of their way so a customer's problem was truly solved.",
    ),
    (
        "kudos-calm-under-pressure",
        "Calm under pressure",
        "Kept a difficult conversation calm, kind and on track.",
    ),
    (
        "kudos-great-listener",
        "Great listener",
        "Understood what the customer really needed, and showed it.",
    ),
    (
        "kudos-team-player",
        "Team player",
        "Helped colleagues so the whole team served customers better.",
    ),
    (
        "kudos-problem-solver",
        "Problem solver",
        "Found the cause of a problem, not just a way around it.",
    ),
)


def _course_spec(course: Course) -> dict[str, object]:
    """A course's completion badge: built in for a built-in course, the LMS's own for an LMS's
    course (its name must not show in another LMS's catalogue)."""
    prefix = "" if course.platform_id is None else f"p{course.platform_id}-"
    return {
        "slug": f"{prefix}course-{course.slug}",
        "kind": "course",
        "name": f"{course.title}",
        "description": f"Completed the course “{course.title}”.",
        "criteria": f"Pass every knowledge check and the final exercise of “{course.title}”.",
        "rule": {"type": "course_completed", "course": course.slug},
        "platform_id": course.platform_id,
    }


def _builtin_specs(courses: Sequence[Course]) -> list[dict[str, object]]:
    specs: list[dict[str, object]] = [_course_spec(course) for course in courses]
    specs.append(
        {
            "slug": "courses-three",
            "kind": "course",
            "name": "Quality all-rounder",
            "description": "Completed three courses of the CX quality programme.",
            "criteria": "Complete any three courses.",
            "rule": {"type": "courses_completed", "count": 3},
        }
    )
    for skill, label in SKILL_LABELS.items():
        specs.append(
            {
                "slug": f"skill-{skill.replace('_', '-')}-proficient",
                "kind": "skill",
                "name": f"{label} — proficient",
                "description": (
                    f"Shows {label.lower()} consistently in real customer conversations."
                ),
                "criteria": f"Reach level 3 or higher in {label} in two assessments in a row.",
                "rule": {
                    "type": "skill_level",
                    "skill": skill,
                    "level": 3,
                    "times": 2,
                    "consecutive": True,
                },
            }
        )
    specs.append(
        {
            "slug": "calibrated-grader",
            "kind": "calibration",
            "name": "Calibrated grader",
            "description": "Grades conversations the way the team agrees they should be graded.",
            "criteria": "Grade three calibration sessions within half a level of the consensus.",
            "rule": {"type": "calibration_within", "deviation": 0.5, "times": 3},
        }
    )
    specs.append(
        {
            "slug": "recognised-five",
            "kind": "kudos",
            "name": "Recognised by the team",
            "description": "Recognised five times by their managers.",
            "criteria": "Receive five recognitions from managers.",
            "rule": {"type": "recognitions_received", "count": 5},
        }
    )
    for slug, name, description in KUDOS_BADGES:
        specs.append(
            {
                "slug": slug,
                "kind": KUDOS,
                "name": name,
                "description": description,
                "criteria": "Awarded by a manager, with a personal message saying why.",
                "rule": None,
                "manager_awardable": True,
            }
        )
    return specs


def ensure_builtin_badges(session: Session) -> int:
    """Create the built-in badges that are missing (one per course in the catalogue, one per
    skill, calibration, kudos), and each LMS's own courses' completion badges. Idempotent;
    returns how many were created."""
    courses = list(session.scalars(select(Course).order_by(Course.sort_order)))
    existing = set(session.scalars(select(Badge.slug)))
    created = 0
    specs = _builtin_specs([c for c in courses if c.built_in]) + [
        _course_spec(c) for c in courses if not c.built_in
    ]
    for spec in specs:
        if spec["slug"] in existing:
            continue
        rule = spec.get("rule")
        session.add(
            Badge(
                slug=str(spec["slug"]),
                platform_id=spec.get("platform_id"),
                kind=str(spec["kind"]),
                name=str(spec["name"]),
                description=str(spec["description"]),
                criteria=str(spec["criteria"]),
                rule=validate_rule(rule) if rule else None,
                manager_awardable=bool(spec.get("manager_awardable", False)),
                image=medal_svg(str(spec["name"]), str(spec["kind"])),
                image_type="image/svg+xml",
            )
        )
        created += 1
    session.flush()
    return created


def visible_badges(session: Session, platform_id: int) -> list[Badge]:
    """Built-in badges and this platform's own, not retired."""
    return list(
        session.scalars(
            select(Badge)
            .where(
                or_(Badge.platform_id.is_(None), Badge.platform_id == platform_id),
                Badge.retired_at.is_(None),
            )
            .order_by(Badge.kind, Badge.name)
        )
    )


def add_badge(
    session: Session,
    *,
    platform_id: int,
    creator: User,
    name: str,
    description: str,
    criteria: str,
    image: bytes,
    image_type: str,
    rule: dict[str, object] | None,
    manager_awardable: bool,
) -> Badge:
    """A trainer's own badge for their platform: awarded by a rule, by managers, or both."""
    if rule is None and not manager_awardable:
        raise RecognitionError("Give the badge a rule, or let managers award it, or both.")
    return added(
        session,
        Badge(
            slug=f"p{platform_id}-{uuid.uuid4().hex[:12]}",
            platform_id=platform_id,
            kind=KUDOS if manager_awardable and rule is None else "custom",
            name=name.strip(),
            description=description.strip(),
            criteria=criteria.strip(),
            rule=validate_rule(rule) if rule else None,
            manager_awardable=manager_awardable,
            image=image,
            image_type=image_type,
            created_by_id=creator.id,
        ),
    )


# -- facts and automatic awards --------------------------------------------------------------


# Which rule types each kind of event can change: a course completion cannot earn a skill
# badge, so evaluating after it reads only course results.
COURSE_RULES = frozenset({"course_completed", "courses_completed", "score_at_least"})
SKILL_RULES = frozenset({"skill_level"})
RECOGNITION_RULES = frozenset({"recognitions_received"})
CALIBRATION_RULES = frozenset({"calibration_within"})


def facts_of(
    session: Session, user_ids: Sequence[int], kinds: Collection[str] | None = None
) -> dict[int, Facts]:
    """Facts for many people (rules look at nothing else); with ``kinds``, only the facts
    rules of those types read."""
    wanted = set(kinds) if kinds is not None else None

    def needed(rules: frozenset[str]) -> bool:
        return wanted is None or bool(wanted & rules)

    facts = {user_id: Facts() for user_id in user_ids}
    if needed(COURSE_RULES):
        for user_id, slug, score in session.execute(
            select(CourseResult.user_id, Course.slug, CourseResult.score_percent)
            .join(Course, Course.id == CourseResult.course_id)
            .where(CourseResult.user_id.in_(user_ids))
        ):
            mine = facts[user_id]
            mine.completed_courses.add(slug)
            mine.course_scores[slug] = max(score, mine.course_scores.get(slug, 0.0))
    if needed(RECOGNITION_RULES):
        for user_id, count in session.execute(
            select(Award.user_id, func.count())
            .where(
                Award.user_id.in_(user_ids),
                Award.awarded_by_id.is_not(None),
                Award.revoked_at.is_(None),
            )
            .group_by(Award.user_id)
        ):
            facts[user_id].recognitions_received = count
    if needed(SKILL_RULES):
        for user_id, levels in skill_levels(session, user_ids).items():
            facts[user_id].skill_levels = levels
    if needed(CALIBRATION_RULES):
        for user_id, deviations in calibration_deviations(session, user_ids).items():
            facts[user_id].calibration_deviations = deviations
    return facts


def facts_for(session: Session, user_id: int) -> Facts:
    return facts_of(session, [user_id])[user_id]


def _new_award(badge: Badge, user: User, team_id: int | None) -> Award:
    return Award(
        public_id=str(uuid.uuid4()),
        badge_id=badge.id,
        user_id=user.id,
        platform_id=user.platform_id,
        team_id=team_id,
        salt=secrets.token_hex(8),
    )


def evaluate(
    session: Session,
    user: User,
    team_id: int | None = None,
    kinds: Collection[str] | None = None,
) -> list[int]:
    """Award every automatic badge whose rule the person now meets and who does not have it,
    and return the new awards' ids. Evaluating twice never awards twice (``automatic_key`` is
    unique, also across workers). Only people who joined the programme earn badges. ``kinds``:
    only rules of these types (those the calling event can have changed); None for all."""
    return evaluate_many(session, [user], team_id=team_id, kinds=kinds)


def evaluate_many(
    session: Session,
    users: Sequence[User],
    *,
    team_id: int | None = None,
    catalogue: dict[int, list[Badge]] | None = None,
    kinds: Collection[str] | None = None,
) -> list[int]:
    """``evaluate`` for many people at once: a fixed number of queries, and one bulk
    ``INSERT … ON CONFLICT DO NOTHING`` (a badge another worker awarded a moment ago is
    skipped, not an error). ``catalogue`` maps platform id to its badges when the caller
    already has it."""
    people = [u for u in users if u.opted_in_at is not None]
    if not people:
        return []
    catalogue = dict(catalogue or {})
    for platform_id in {u.platform_id for u in people} - set(catalogue):
        catalogue[platform_id] = visible_badges(session, platform_id)
    ids = [u.id for u in people]
    held = {
        (user_id, badge_id)
        for user_id, badge_id in session.execute(
            select(Award.user_id, Award.badge_id).where(
                Award.user_id.in_(ids), Award.automatic_key.is_not(None)
            )
        )
    }
    facts = facts_of(session, ids, kinds)
    rows = []
    for user in people:
        for badge in catalogue[user.platform_id]:
            if not badge.rule or (kinds is not None and badge.rule.get("type") not in kinds):
                continue
            if (user.id, badge.id) not in held and holds(badge.rule, facts[user.id]):
                rows.append(
                    {
                        "public_id": str(uuid.uuid4()),
                        "badge_id": badge.id,
                        "user_id": user.id,
                        "platform_id": user.platform_id,
                        "team_id": team_id,
                        "automatic_key": f"{badge.id}:{user.id}",
                        "salt": secrets.token_hex(8),
                        "message": "",
                        "revoked_reason": "",
                        "hidden_from_wall": False,
                        "issued_at": utcnow(),
                    }
                )
    if not rows:
        return []
    insert = insert_for(session.get_bind().dialect.name)
    inserted = session.scalars(
        insert(Award)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[Award.automatic_key])
        .returning(Award.id)
    ).all()
    if inserted:
        session.execute(
            sa_insert(AwardEvent),
            [
                {
                    "award_id": award_id,
                    "action": "awarded",
                    "reason": "Automatic rule",
                    "recorded_at": utcnow(),
                }
                for award_id in inserted
            ],
        )
    return list(inserted)


@dataclass(frozen=True)
class NextBadge:
    badge: Badge
    progress: Progress


def next_badges(session: Session, user: User) -> list[NextBadge]:
    """Automatic badges the person has not earned yet, closest first."""
    held = set(session.scalars(select(Award.badge_id).where(Award.user_id == user.id)))
    facts = facts_for(session, user.id)
    upcoming = [
        NextBadge(badge, progress(badge.rule, facts))
        for badge in visible_badges(session, user.platform_id)
        if badge.rule and badge.id not in held
    ]
    return sorted(upcoming, key=lambda n: (-n.progress.done / n.progress.needed, n.badge.name))


# -- managers' awards ------------------------------------------------------------------------


def team_members_for_awards(
    session: Session, team_ids: Sequence[int], manager_id: int
) -> list[User]:
    """The people a manager may recognise: active members of the teams they govern (their
    course's, and the organisation teams they lead) who joined the programme, not themselves;
    by name, each once."""
    people = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .distinct()
        .where(
            Membership.team_id.in_(team_ids),
            Membership.active.is_(True),
            Membership.user_id != manager_id,
            User.opted_in_at.is_not(None),
        )
    )
    return sorted(people, key=lambda user: user.display_name)


def award_kudos(
    session: Session,
    *,
    manager: User,
    team_ids: Sequence[int],
    recipient_id: int,
    badge_id: int,
    message: str,
    request_id: str,
) -> Award:
    """A manager recognises a member of a team they govern (``team_ids``, their own course's
    first); the award belongs to that team. The same ``request_id`` (a double click, a resent
    form) returns the award already made."""
    if request_id:
        earlier = session.scalar(select(Award).where(Award.request_id == request_id))
        if earlier is not None:
            if earlier.awarded_by_id != manager.id:
                raise RecognitionError("This form was already used. Reload the page.")
            return earlier
    message = message.strip()
    if not message:
        raise RecognitionError(
            "Write a message saying what they did: it is what makes it count.", field="message"
        )
    if len(message) > MESSAGE_LIMIT:
        raise RecognitionError(
            f"Keep the message under {MESSAGE_LIMIT} characters.", field="message"
        )
    if recipient_id == manager.id:
        raise RecognitionError("You cannot recognise yourself.", field="recipient")
    memberships = {
        m.team_id: m
        for m in session.scalars(
            select(Membership).where(
                Membership.team_id.in_(team_ids),
                Membership.user_id == recipient_id,
                Membership.active.is_(True),
            )
        )
    }
    membership = next((memberships[t] for t in team_ids if t in memberships), None)
    if membership is None:
        raise RecognitionError("You can recognise only people in your own team.", field="recipient")
    team_id = membership.team_id
    catalogue = visible_badges(session, manager.platform_id)  # read once: evaluate needs it too
    badge = next((b for b in catalogue if b.id == badge_id and b.manager_awardable), None)
    if badge is None:
        raise RecognitionError("Choose one of the recognition badges.", field="badge")
    recipient = membership.user
    if recipient.opted_in_at is None:
        raise RecognitionError(
            f"{recipient.display_name} has not joined the training programme, and badges are "
            "part of it. Thank them in person!",
            field="recipient",
        )
    award = _new_award(badge, recipient, team_id)
    award.awarded_by_id = manager.id
    award.message = message
    award.request_id = request_id[:64] or None
    try:
        with session.begin_nested():
            session.add(award)
            session.flush()
    except IntegrityError:
        earlier = session.scalar(select(Award).where(Award.request_id == request_id))
        if earlier is None:
            raise
        return earlier
    session.add(
        AwardEvent(award_id=award.id, action="awarded", actor_id=manager.id, reason=message)
    )
    evaluate_many(
        session,
        [recipient],
        team_id=team_id,
        catalogue={manager.platform_id: catalogue},
        kinds=RECOGNITION_RULES,
    )
    return award


def revoke(
    session: Session,
    award: Award,
    *,
    actor: User,
    actor_role: Role,
    reason: str,
    publish_reason: bool = False,
) -> Award:
    """Withdraw an award, with a reason. The awarding manager may revoke their own awards;
    trainers and administrators any award of their platform. The reason is kept in the audit
    log; the public credential shows it only with ``publish_reason``."""
    reason = reason.strip()
    if not reason:
        raise RecognitionError("Say why the award is withdrawn.", field="reason")
    if len(reason) > REASON_LIMIT:
        raise RecognitionError(f"Keep the reason under {REASON_LIMIT} characters.", field="reason")
    if award.platform_id != actor.platform_id:
        raise RecognitionError("There is no such award.")
    allowed = award.awarded_by_id == actor.id or actor_role in STAFF
    if not allowed:
        raise RecognitionError("Only the manager who gave it, or a trainer, can withdraw it.")
    if award.revoked_at is not None:
        return award
    award.revoked_at = utcnow()
    award.revoked_reason = reason
    award.revoked_reason_public = publish_reason
    session.add(AwardEvent(award_id=award.id, action="revoked", actor_id=actor.id, reason=reason))
    session.flush()
    return award


def set_hidden(session: Session, award: Award, user: User, hidden: bool) -> None:
    """The recipient shows or hides their own award on the team's wall."""
    if award.user_id != user.id:
        raise RecognitionError("Only the person who received it can hide it.")
    if award.hidden_from_wall != hidden:
        award.hidden_from_wall = hidden
        session.add(
            AwardEvent(award_id=award.id, action="hidden" if hidden else "shown", actor_id=user.id)
        )
        session.flush()


def awards_of(session: Session, user_id: int) -> list[Award]:
    return list(
        session.scalars(
            select(Award)
            .where(Award.user_id == user_id)
            .options(selectinload(Award.badge), selectinload(Award.awarded_by))
            .order_by(Award.issued_at.desc(), Award.id.desc())
        )
    )


def wall(session: Session, team_id: int, limit: int = 30) -> list[Award]:
    """The team's recent recognitions: managers' awards and automatic ones, not revoked, not
    hidden by their recipient."""
    return list(
        session.scalars(
            select(Award)
            .where(
                Award.team_id == team_id,
                Award.revoked_at.is_(None),
                Award.hidden_from_wall.is_(False),
            )
            .options(
                selectinload(Award.badge), selectinload(Award.user), selectinload(Award.awarded_by)
            )
            .order_by(Award.issued_at.desc(), Award.id.desc())
            .limit(limit)
        )
    )


def award_by_public_id(session: Session, public_id: str) -> Award | None:
    if not public_id or len(public_id) > 36:
        return None
    return session.scalar(
        select(Award).where(Award.public_id == public_id).options(selectinload(Award.badge))
    )


def on_course_completed(session: Session, result: CourseResult, **_: object) -> None:
    """A completion was written: evaluate the person's rules in the same transaction."""
    user = session.get(User, result.user_id)
    enrolment = session.get(Enrolment, result.enrolment_id)
    if user is not None and enrolment is not None:
        evaluate(session, user, enrolment.team_id, COURSE_RULES)


def on_courses_imported(session: Session, **_: object) -> None:
    """New courses get their completion badges."""
    ensure_builtin_badges(session)


def on_assessment_graded(session: Session, assessment: Any, **_: object) -> None:
    """A skill assessment was graded: skill badges may now be earned."""
    user = session.get(User, assessment.learner_id)
    if user is not None:
        evaluate(session, user, assessment.team_id, SKILL_RULES)


def on_calibration_closed(session: Session, calibration: Any, **_: object) -> None:
    """A calibration session closed: its graders may have earned the calibration badge."""
    from assessments.models import CalibrationGrade

    graders = session.scalars(
        select(User)
        .join(CalibrationGrade, CalibrationGrade.grader_id == User.id)
        .where(CalibrationGrade.session_id == calibration.id)
    ).all()
    evaluate_many(session, graders, team_id=calibration.team_id, kinds=CALIBRATION_RULES)
