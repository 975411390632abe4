"""Map LTI role URIs to product roles. Plain functions, no Flask.

Only context (membership) roles and administrator roles count. Institution roles such as
``institution/person#Instructor`` describe a person's job, not their place in this course, so
they never grant trainer rights. Anything unrecognised maps to ``Role.GUEST``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.auth import Role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEGACY_PREFIXES = ("urn:lti:role:ims/lis/", "urn:lti:instrole:ims/lis/", "urn:lti:sysrole:ims/lis/")

ADMIN_ROLES = {
    "system/person#Administrator",
    "system/person#SysAdmin",
    "institution/person#Administrator",
    "membership#Administrator",
}
TRAINER_CONTEXT_ROLES = {"Instructor", "ContentDeveloper", "TeachingAssistant"}
MANAGER_CONTEXT_ROLES = {"Mentor"}
LEARNER_CONTEXT_ROLES = {"Learner"}
# The roles a trainer may give someone in the tool, over what the LMS says (Moodle sends no
# Mentor for a course, so its managers are named here).
ASSIGNABLE_ROLES = (Role.MANAGER,)

_RANK = {role: rank for rank, role in enumerate(Role)}


def _context_role(role: str) -> str | None:
    """The principal context role named by ``role``, or None when it is not a context role.

    ``membership/Instructor#TeachingAssistant`` (a sub-role) counts as TeachingAssistant;
    short names (``Learner``), as Moodle's NRPS sends them, are context roles by the spec.
    """
    if role.startswith(LIS):
        rest = role[len(LIS) :]
        if rest.startswith("membership#"):
            return rest.split("#", 1)[1]
        if rest.startswith("membership/"):
            principal, _, sub = rest[len("membership/") :].partition("#")
            return sub if sub == "TeachingAssistant" else principal
        return None
    for prefix in LEGACY_PREFIXES:
        if role.startswith(prefix):
            return None if prefix != LEGACY_PREFIXES[0] else role[len(prefix) :].split("/")[0]
    if "/" not in role and "#" not in role and ":" not in role:
        return role
    return None


def _is_admin(role: str) -> bool:
    if role.startswith(LIS):
        return role[len(LIS) :] in ADMIN_ROLES
    return role in {
        "Administrator",
        "urn:lti:sysrole:ims/lis/Administrator",
        "urn:lti:instrole:ims/lis/Administrator",
    }


def role_from_lti(
    lti_roles: Iterable[str],
    custom: Mapping[str, object] | None = None,
    *,
    trust_role_parameter: bool = False,
) -> Role:
    """The product role for a launch.

    A ``role=manager`` custom parameter is honoured from an Instructor launch (the activity
    was configured by a course teacher for managers), or from any launch when the administrator
    marked the deployment's placement as trusted. It never raises an administrator.
    """
    roles = [r for r in lti_roles if isinstance(r, str)]
    if any(_is_admin(r) for r in roles):
        return Role.ADMINISTRATOR
    context_roles = {name for r in roles if (name := _context_role(r))}
    wants_manager = str((custom or {}).get("role", "")).strip().lower() == "manager"
    if context_roles & TRAINER_CONTEXT_ROLES:
        return Role.MANAGER if wants_manager else Role.TRAINER
    if context_roles & MANAGER_CONTEXT_ROLES:
        return Role.MANAGER
    if context_roles & LEARNER_CONTEXT_ROLES:
        return Role.MANAGER if wants_manager and trust_role_parameter else Role.LEARNER
    return Role.GUEST


def higher(a: Role, b: Role) -> Role:
    return a if _RANK[a] >= _RANK[b] else b
