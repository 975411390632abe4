"""LTI roles to product roles: least privilege for anything unknown."""

from __future__ import annotations

import pytest

from core.auth import Role
from people.roles import role_from_lti

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([LIS + "membership#Learner"], Role.LEARNER),
        (["Learner"], Role.LEARNER),  # short names, as Moodle's NRPS sends them
        ([LIS + "membership#Instructor"], Role.TRAINER),
        ([LIS + "membership#ContentDeveloper"], Role.TRAINER),
        ([LIS + "membership/Instructor#TeachingAssistant"], Role.TRAINER),
        (["Instructor"], Role.TRAINER),
        ([LIS + "membership#Mentor"], Role.MANAGER),
        ([LIS + "membership/Mentor#Advisor"], Role.MANAGER),
        (
            [LIS + "system/person#Administrator", LIS + "institution/person#Administrator"],
            Role.ADMINISTRATOR,
        ),
        ([LIS + "system/person#SysAdmin"], Role.ADMINISTRATOR),
        ([LIS + "membership#Administrator"], Role.ADMINISTRATOR),
        ([LIS + "membership#Learner", LIS + "membership#Instructor"], Role.TRAINER),
        # Institution roles describe a job, not this course: no privilege from them alone.
        ([LIS + "institution/person#Instructor"], Role.GUEST),
        ([LIS + "institution/person#Student"], Role.GUEST),
        ([LIS + "institution/person#Instructor", LIS + "membership#Learner"], Role.LEARNER),
        ([], Role.GUEST),
        (["http://example.com/roles#Wizard"], Role.GUEST),
        ([LIS + "membership#Member"], Role.GUEST),
        (["urn:lti:role:ims/lis/Learner"], Role.LEARNER),
        (["urn:lti:instrole:ims/lis/Instructor"], Role.GUEST),
    ],
)
def test_role_mapping(roles, expected):
    assert role_from_lti(roles) is expected


def test_manager_parameter_is_honoured_from_an_instructor_launch():
    assert role_from_lti([LIS + "membership#Instructor"], {"role": "manager"}) is Role.MANAGER


def test_manager_parameter_from_a_learner_needs_a_trusted_placement():
    learner = [LIS + "membership#Learner"]
    assert role_from_lti(learner, {"role": "manager"}) is Role.LEARNER
    assert role_from_lti(learner, {"role": "manager"}, trust_role_parameter=True) is Role.MANAGER


def test_manager_parameter_never_raises_an_unknown_role():
    assert role_from_lti([], {"role": "manager"}, trust_role_parameter=True) is Role.GUEST


def test_manager_parameter_does_not_demote_an_administrator():
    roles = [LIS + "system/person#Administrator"]
    assert role_from_lti(roles, {"role": "manager"}) is Role.ADMINISTRATOR
