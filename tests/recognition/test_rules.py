"""The rule vocabulary: what each rule means, and that nothing else is accepted."""

from __future__ import annotations

import pytest

from recognition.rules import Facts, RuleInvalid, explain, holds, progress, validate_rule


def test_course_rules():
    facts = Facts(completed_courses={"nps", "dmaic"}, course_scores={"nps": 92.0, "dmaic": 71.0})
    assert holds({"type": "course_completed", "course": "nps"}, facts)
    assert not holds({"type": "course_completed", "course": "pdca"}, facts)
    assert holds({"type": "course_completed", "course": "*"}, facts)
    assert not holds({"type": "course_completed", "course": "*"}, Facts())
    assert progress({"type": "courses_completed", "count": 3}, facts).done == 2
    assert holds({"type": "score_at_least", "course": "nps", "score": 92}, facts)
    assert not holds({"type": "score_at_least", "course": "dmaic", "score": 90}, facts)
    assert holds({"type": "score_at_least", "course": "*", "score": 90}, facts)


@pytest.mark.parametrize(
    ("levels", "consecutive", "expected"),
    [
        ([3, 3], True, True),
        ([3, 2, 3], True, False),
        ([3, 2, 3], False, True),
        ([2, 3, 4, 1], True, True),  # a run of two happened, even if the last one is low
        ([4], True, False),
        ([], False, False),
    ],
)
def test_skill_level_twice(levels, consecutive, expected):
    rule = {
        "type": "skill_level",
        "skill": "empathy",
        "level": 3,
        "times": 2,
        "consecutive": consecutive,
    }
    assert holds(rule, Facts(skill_levels={"empathy": levels})) is expected


def test_recognitions_and_calibration():
    assert holds({"type": "recognitions_received", "count": 5}, Facts(recognitions_received=5))
    many = Facts(recognitions_received=9)
    assert progress({"type": "recognitions_received", "count": 5}, many).done == 5
    rule = {"type": "calibration_within", "deviation": 0.5, "times": 2}
    assert holds(rule, Facts(calibration_deviations=[0.2, 0.9, 0.5]))
    assert not holds(rule, Facts(calibration_deviations=[0.2, 0.9]))


def test_every_rule_explains_itself():
    rule = {"type": "skill_level", "skill": "active_listening", "level": 3, "times": 2}
    assert explain({**rule, "consecutive": True}) == (
        "Reach level 3 or higher in Active listening in skill assessments, 2 times in a row."
    )
    assert explain({"type": "score_at_least", "course": "*", "score": 90}) == (
        "Score 90% or more in any course."
    )
    titles = {"nps": "Net Promoter Score"}
    assert explain({"type": "course_completed", "course": "nps"}, titles) == (
        "Complete the course “Net Promoter Score”."
    )


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"type": "exec", "code": "import os"}, "is not one of"),
        ({"type": "course_completed"}, "'course' is a required property"),
        ({"type": "course_completed", "course": "nps", "then": "x"}, "Additional properties"),
        ({"type": "skill_level", "skill": "charm", "level": 3, "times": 1}, "is not one of"),
        ({"type": "skill_level", "skill": "empathy", "level": 9, "times": 1}, "maximum"),
        ("course_completed", "is not of type 'object'"),
    ],
)
def test_anything_outside_the_vocabulary_is_refused(rule, words):
    with pytest.raises(RuleInvalid, match=words):
        validate_rule(rule)
