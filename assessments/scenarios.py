"""Scenarios taken by learners: a scripted customer, the learner's replies, and the complete
conversation sent to the grading queue with the engine's suggestions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.errors import AssessmentError, TextRule
from assessments.grading import send_to_gradebook, stored_suggestions
from assessments.learners import learner_columns
from assessments.library import Scenario, scenarios
from assessments.models import AWAITING, IN_PROGRESS, SCENARIO, Assessment
from assessments.rubrics import rubric_for_platform
from assessments.tenant_models import current_suggestion_model
from assessments.transcripts import Transcript
from core.db import utcnow
from people.models import User

MAX_REPLY = 2000
REPLY = TextRule(
    at_least=2,
    at_most=MAX_REPLY,
    too_short="Write your reply to the customer.",
    too_long=f"Keep each reply under {MAX_REPLY} characters.",
)


def scenario_or_error(scenario_id: str) -> Scenario:
    found = scenarios().get(scenario_id)
    if found is None:
        raise AssessmentError("There is no such scenario.")
    return found


def start_scenario(
    session: Session,
    learner: User,
    scenario_id: str,
    *,
    deployment_id: int,
    team_id: int | None,
    resource_link_id: int | None,
) -> Assessment:
    """Begin (or resume) a scenario: the first customer message waits for a reply."""
    if learner.opted_in_at is None:
        raise AssessmentError("Join the programme before taking an assessment.")
    scenario = scenario_or_error(scenario_id)
    open_one = session.scalar(
        select(Assessment).where(
            Assessment.learner_id == learner.id,
            Assessment.scenario == scenario.id,
            Assessment.status == IN_PROGRESS,
        )
    )
    if open_one is not None:
        return open_one
    version = rubric_for_platform(session, learner.platform_id)
    assessment = Assessment(
        **learner_columns(learner, deployment_id, team_id),
        kind=SCENARIO,
        scenario=scenario.id,
        title=scenario.title,
        rubric_version_id=version.id,
        channel=scenario.channel,
        conversation={"turns": [{"speaker": "customer", "text": scenario.turns[0]}]},
        status=IN_PROGRESS,
        resource_link_id=resource_link_id,
    )
    session.add(assessment)
    session.flush()
    return assessment


def reply(session: Session, assessment: Assessment, learner: User, text: str) -> Assessment:
    """The learner's reply to the customer's latest message; after the last one the
    conversation goes to the grading queue."""
    if assessment.learner_id != learner.id:
        raise AssessmentError("This is not your assessment.")
    if assessment.status != IN_PROGRESS:
        raise AssessmentError("This scenario is finished; your replies were sent for grading.")
    text = REPLY.check(text)
    scenario = scenario_or_error(assessment.scenario or "")
    turns = list(assessment.conversation["turns"])
    if turns[-1]["speaker"] != "customer":
        raise AssessmentError("Wait for the customer's next message.")
    turns.append({"speaker": "agent", "text": text})
    answered = sum(1 for t in turns if t["speaker"] == "agent")
    if answered < len(scenario.turns):
        turns.append({"speaker": "customer", "text": scenario.turns[answered]})
    assessment.conversation = {"turns": turns}
    if answered >= len(scenario.turns):
        assessment.status = AWAITING
        assessment.submitted_at = utcnow()
        assessment.suggestions = stored_suggestions(
            Transcript.from_json({"turns": turns, "channel": assessment.channel}),
            current_suggestion_model(session, assessment.platform_id),
        )
        send_to_gradebook(session, assessment, pending=True)
    session.flush()
    return assessment
