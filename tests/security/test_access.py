"""Every route, tried as every role and as another tenant's people, expecting the right answer.

The table below is the access policy written down independently of the code: who may open
each page or send each form. ``test_every_route_is_in_the_table`` fails when a route is added
without saying who may use it. A stranger (another deployment of the platform) must never see
tenant A's people on any page it may open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.lti import csrf_token_for, page_text
from tests.security.conftest import TENANT_A_NAMES, World

ACTORS = (
    "anonymous",
    "learner",
    "other_learner",
    "manager",
    "trainer",
    "administrator",
    "stranger_learner",
    "stranger_manager",
    "stranger_trainer",
    "course_b_trainer",
    "course_b_manager",
)
STRANGERS = ("stranger_learner", "stranger_manager", "stranger_trainer")
# The same LMS and deployment, another course context: they may use the same pages, but never
# see or act on Lena's course's people.
OTHER_COURSE = ("course_b_trainer", "course_b_manager")
LENAS_COURSE_PEOPLE = ("Lena", "Omar Second")
OK = "ok"  # an answer the person can use: 2xx or 3xx (or a listed extra, e.g. a form's 400)
Expect = dict[str, object]


def everyone() -> Expect:
    return dict.fromkeys(ACTORS, OK)


def launched() -> Expect:
    """Any launched person, each in their own tenant."""
    return {**everyone(), "anonymous": 401}


def staff() -> Expect:
    """Trainers and administrators; a stranger trainer sees only their own tenant."""
    denied = dict.fromkeys(
        (
            "learner",
            "other_learner",
            "manager",
            "stranger_learner",
            "stranger_manager",
            "course_b_manager",
        ),
        403,
    )
    return {**launched(), **denied}


def staff_object() -> Expect:
    """A staff page about one of Lena's course's things: a stranger trainer, and a trainer of
    another course of the same LMS, get Not Found."""
    return {**staff(), "stranger_trainer": 404, "course_b_trainer": 404}


def lenas(*, staff_may: bool, manager_may: bool = False) -> Expect:
    """One of Lena's own things: her, perhaps her course's staff, nobody else."""
    expect: Expect = {actor: 404 for actor in ACTORS}
    expect.update(anonymous=401, learner=OK)
    if staff_may:
        expect.update(trainer=OK, administrator=OK)
    if manager_may:
        expect.update(manager=OK)
    return expect


def only(**statuses: object) -> Callable[[Expect], Expect]:
    return lambda base: {**base, **statuses}


@dataclass
class Route:
    endpoint: str
    method: str
    path: str
    expect: Expect
    extra_ok: tuple[int, ...] = ()  # e.g. 400 for a form sent empty
    data: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def with_roles(base: Expect, allowed: set[str], denied_status: int = 403) -> Expect:
    return {
        a: (s if a in allowed or s != OK or a == "anonymous" else denied_status)
        for a, s in base.items()
    }


# Her course's staff can read Lena's assessment, so they are told they may not answer for her.
LEARNERS_OWN = {**lenas(staff_may=False), "trainer": 403, "administrator": 403}
MANAGERS = {
    "manager",
    "trainer",
    "stranger_manager",
    "stranger_trainer",
    "course_b_manager",
    "course_b_trainer",
}
A = "{ids[assessment]}"
# The administration page: a trainer (any tenant's) is refused by role.
ADMINS = {**staff(), "trainer": 403, "stranger_trainer": 403, "course_b_trainer": 403}

ROUTES = [
    # core
    Route("core.home", "GET", "/", everyone()),
    Route("core.healthz", "GET", "/healthz", everyone()),
    Route("core.readyz", "GET", "/readyz", everyone(), extra_ok=(503,)),  # schema not stamped
    Route("core.static", "GET", "/static/core/app.css", everyone()),
    Route("static", "GET", "/static/core/app.css", everyone()),
    Route(
        "core.job_status",
        "GET",
        "/jobs/{ids[job]}",
        lenas(staff_may=False) | {"learner": 404, "trainer": OK},
    ),
    Route(
        "core.job_result",
        "GET",
        "/jobs/{ids[job]}/result",
        lenas(staff_may=False) | {"learner": 404, "trainer": OK},
    ),
    # people
    Route("people.dashboard", "GET", "/dashboard", launched()),
    Route("people.programme", "GET", "/programme", launched()),
    Route("people.my_data", "GET", "/me/data", launched()),
    Route("people.my_data_json", "GET", "/me/data.json", launched()),
    Route(
        "people.set_role",
        "POST",
        "/team/members/{ids[membership]}/role",
        staff_object(),
        extra_ok=(400,),
    ),
    # courses
    Route("courses.index", "GET", "/courses/", launched()),
    Route("courses.glossary_page", "GET", "/courses/glossary", launched()),
    Route("courses.course", "GET", "/courses/basics/", launched()),
    Route("courses.module", "GET", "/courses/basics/m/scores/", launched()),
    Route("courses.lesson", "GET", "/courses/basics/m/scores/scales", launched()),
    Route("courses.check", "GET", "/courses/basics/m/scores/check", launched()),
    Route("courses.exercise", "GET", "/courses/basics/exercise", launched()),
    Route("courses.resume", "GET", "/courses/basics/continue", launched()),
    # Each LMS's trainers and administrators choose for their own learners (a stranger trainer
    # opens their own LMS's settings for the shared course).
    Route("courses.check_settings", "GET", "/courses/basics/check-settings", staff()),
    # Images of the shared catalogue: no personal data, cached as public and immutable.
    # Images of the shared catalogue: no personal data, cached as public and immutable.
    Route(
        "courses.course_asset",
        "GET",
        "/courses/assets/{ids[asset_version]}/{ids[asset_path]}",
        everyone(),
    ),
    # The viewer's own certificate: Lena has one; for anyone else it leads back to the course.
    Route("courses.certificate", "GET", "/courses/basics/certificate.pdf", launched()),
    Route("courses.verify", "GET", "/certificates/{ids[certificate]}", everyone()),
    Route("courses.cohort", "GET", "/courses/cohort", staff()),
    # The organisation's data is the deployment's: any of its trainers or administrators.
    Route("courses.completions_upload", "GET", "/courses/completions", staff()),
    Route("people.organisation", "GET", "/organisation", staff()),
    Route("courses.cohort_csv", "GET", "/courses/cohort.csv?course=basics", staff()),
    Route("courses.reviews", "GET", "/courses/reviews", staff()),
    Route("courses.review", "GET", "/courses/reviews/{ids[submission]}", staff_object()),
    # assessments
    Route("assessments.index", "GET", "/assessments/", launched()),
    Route("assessments.scenario", "GET", "/assessments/scenarios/{ids[scenario]}", launched()),
    Route("assessments.quiz", "GET", "/assessments/quizzes/{ids[quiz]}", launched()),
    Route("assessments.show", "GET", f"/assessments/{A}", lenas(staff_may=True)),
    Route("assessments.grade_page", "GET", f"/assessments/{A}/grade", staff_object()),
    Route("assessments.grading_queue", "GET", "/assessments/queue", staff()),
    Route("assessments.results", "GET", "/assessments/results", staff()),
    Route("assessments.disputes", "GET", "/assessments/disputes", staff()),
    Route("assessments.review", "GET", "/assessments/disputes/{ids[dispute]}", staff_object()),
    Route(
        "assessments.calibration",
        "GET",
        "/assessments/calibrations/{ids[calibration]}",
        staff_object(),
    ),
    Route("assessments.rubrics", "GET", "/assessments/rubrics", staff()),
    Route("assessments.edit_rubric", "GET", "/assessments/rubrics/{ids[rubric]}/edit", staff()),
    Route("assessments.quiz_analysis", "GET", "/assessments/quizzes/{ids[quiz]}/analysis", staff()),
    Route("assessments.upload", "GET", "/assessments/upload", staff()),
    # recognition
    Route("recognition.mine", "GET", "/recognition/", launched()),
    Route("recognition.team_wall", "GET", "/recognition/wall", launched()),
    Route("recognition.badges", "GET", "/recognition/badges", launched()),
    Route("recognition.export", "GET", "/recognition/export.json", launched()),
    Route("recognition.audit", "GET", "/recognition/audit", staff()),
    Route("recognition.award", "GET", "/recognition/award", with_roles(launched(), MANAGERS)),
    Route(
        "recognition.withdraw",
        "GET",
        "/recognition/awards/{ids[award]}/revoke",
        {
            **with_roles(launched(), MANAGERS | {"administrator"}),
            "stranger_manager": 404,
            "stranger_trainer": 404,
            "course_b_manager": 404,
            "course_b_trainer": 404,
        },
    ),
    Route("recognition.issuer", "GET", "/badges/issuer", everyone()),
    Route("recognition.badge_class_json", "GET", "/badges/classes/{ids[badge_public]}", everyone()),
    Route(
        "recognition.achievement_json",
        "GET",
        "/badges/achievements/{ids[badge_public]}",
        everyone(),
    ),
    Route("recognition.badge_image", "GET", "/badges/{ids[badge_public]}/image", everyone()),
    # Row-id URLs of built-in badges lead to their public ids (an LMS's own badges: 404, see
    # tests/recognition/test_public_credentials.py).
    Route("recognition.legacy_badge", "GET", "/badges/classes/{ids[badge]}", everyone()),
    Route("recognition.verification_key_json", "GET", "/badges/keys/{ids[kid]}", everyone()),
    Route("recognition.assertion_json", "GET", "/badges/assertions/{ids[award]}", everyone()),
    Route(
        "recognition.assertion_image", "GET", "/badges/assertions/{ids[award]}/image", everyone()
    ),
    Route(
        "recognition.credential_json", "GET", "/badges/credentials/{ids[award]}.json", everyone()
    ),
    Route("recognition.credential_jwt", "GET", "/badges/credentials/{ids[award]}.jwt", everyone()),
    Route("recognition.baked", "GET", "/badges/credentials/{ids[award]}/image", everyone()),
    Route("recognition.verify", "GET", "/badges/verify/{ids[award]}", everyone()),
    Route("recognition.verify_json", "GET", "/badges/verify/{ids[award]}.json", everyone()),
    Route("recognition.status_list", "GET", "/badges/status/revocation", everyone()),
    # insights
    Route("insights.index", "GET", "/insights/", staff()),
    Route("insights.export", "GET", "/insights/teams.csv", staff()),
    Route("insights.cohort", "GET", "/insights/cohort", staff()),
    Route("insights.cohort_export", "GET", "/insights/cohort/funnel.csv", staff()),
    Route("insights.upload", "GET", "/insights/import", staff()),
    # lms
    Route(
        "lms.admin_platform",
        "GET",
        "/lms/admin/platform",
        ADMINS,
    ),
    Route("lms.grade_deliveries", "GET", "/lms/grades", staff()),
    Route("lms.deep_link_picker", "GET", "/lms/deep-link", staff(), extra_ok=(400,)),
    Route("lms.setup", "GET", "/lms/setup", everyone()),
    Route("lms.canvas_config", "GET", "/lms/canvas.json", everyone()),
    Route("lms.jwks", "GET", "/lms/jwks", everyone()),
    Route("lms.dynamic_registration", "GET", "/lms/register", dict.fromkeys(ACTORS, 400)),
    Route("lms.login", "GET", "/lms/login", dict.fromkeys(ACTORS, 400)),
    # State-changing forms, sent empty with a valid CSRF token: the guard answers before any
    # validation. Kept after the pages above, and the ones that change a person's state last.
    Route("courses.check", "POST", "/courses/basics/m/scores/check", launched(), (400,)),
    Route("courses.exercise", "POST", "/courses/basics/exercise", launched(), (400,)),
    Route("courses.lesson_done", "POST", "/courses/basics/m/scores/scales/done", launched()),
    Route("courses.start", "POST", "/courses/basics/start", launched()),
    Route("courses.review", "POST", "/courses/reviews/{ids[submission]}", staff_object(), (400,)),
    Route("courses.upload_pack", "POST", "/courses/import", staff(), (400,)),
    Route("courses.completions_upload", "POST", "/courses/completions", staff(), (400,)),
    Route("people.roster_upload", "POST", "/organisation/roster", staff(), (400,)),
    # The LMS registration (``lms.administration``'s rule): administrators only. Tenant A's
    # platform is shared with tenant B's deployment, so Ada may not change the platform
    # itself (403), nor B's deployment (403); she may add a deployment or another LMS (an
    # empty form: 400) and change her own deployment.
    *(
        Route(endpoint, "POST", path, ADMINS | {"administrator": status}, extra)
        for endpoint, path, status, extra in (
            ("lms.admin_platform_edit", "/lms/admin/platform", 403, ()),
            ("lms.admin_platform_state", "/lms/admin/platform/disable", 403, ()),
            ("lms.admin_platform_remove", "/lms/admin/platform/remove", 403, ()),
            ("lms.admin_platform_add", "/lms/admin/platforms", OK, (400,)),
            ("lms.admin_deployment_add", "/lms/admin/deployments", OK, (400,)),
            ("lms.admin_deployment_edit", "/lms/admin/deployments/{ids[deployment_b]}", 403, ()),
            (
                "lms.admin_deployment_change",
                "/lms/admin/deployments/{ids[deployment_b]}/disable",
                403,
                (),
            ),
        )
    ),
    Route(
        "lms.admin_deployment_edit",
        "POST",
        "/lms/admin/deployments/{ids[deployment_a]}",
        ADMINS,
        data={"name": "Tenant A"},
    ),
    Route(
        "lms.admin_deployment_change",
        "POST",
        "/lms/admin/deployments/{ids[deployment_a]}/remove",
        ADMINS,
        (400,),  # not confirmed: nothing removed
    ),
    Route(
        "people.team_change",
        "POST",
        "/organisation/teams/{ids[org_team]}",
        {**staff(), "stranger_trainer": 404},
        (400,),
    ),
    Route("courses.check_settings", "POST", "/courses/basics/check-settings", staff(), (400,)),
    Route("assessments.start", "POST", "/assessments/scenarios/{ids[scenario]}/start", launched()),
    Route("assessments.quiz", "POST", "/assessments/quizzes/{ids[quiz]}", launched(), (400,)),
    Route("assessments.answer", "POST", f"/assessments/{A}/reply", LEARNERS_OWN, (400,)),
    Route("assessments.dispute", "POST", f"/assessments/{A}/dispute", LEARNERS_OWN, (400,)),
    Route("assessments.grade_page", "POST", f"/assessments/{A}/grade", staff_object(), (400,)),
    # The dispute rule: a trainer other than the first grader decides; administrators may read
    # a dispute but not decide it (Tara gave the grade, so her empty form is a 400).
    Route(
        "assessments.review",
        "POST",
        "/assessments/disputes/{ids[dispute]}",
        {**staff_object(), "administrator": 403},
        (400,),
    ),
    Route(
        "assessments.calibration",
        "POST",
        "/assessments/calibrations/{ids[calibration]}",
        staff_object(),
        (400,),
    ),
    Route("assessments.calibrate", "POST", f"/assessments/{A}/calibrate", staff_object()),
    Route(
        "assessments.reopen_calibration",
        "POST",
        "/assessments/calibrations/{ids[calibration]}/reopen",
        staff_object(),
    ),
    Route(
        "assessments.edit_rubric",
        "POST",
        "/assessments/rubrics/{ids[rubric]}/edit",
        staff(),
        (400,),
    ),
    Route("assessments.upload", "POST", "/assessments/upload", staff(), (400,)),
    # Each LMS's own threshold: a stranger trainer sets their own tenant's, never A's.
    Route(
        "assessments.suggestion_threshold",
        "POST",
        "/assessments/suggestions/threshold",
        staff(),
        data={"threshold": "0.4"},
    ),
    Route(
        "recognition.award", "POST", "/recognition/award", with_roles(launched(), MANAGERS), (400,)
    ),
    Route("recognition.badges", "POST", "/recognition/badges", staff(), (400,)),
    Route(
        "recognition.visibility",
        "POST",
        "/recognition/awards/{ids[award]}/visibility",
        lenas(staff_may=False),
    ),
    Route("insights.upload", "POST", "/insights/import", staff(), (400,)),
    Route("insights.report_pdf", "POST", "/insights/report.pdf", staff(), (400,)),
    Route("insights.api_surveys", "POST", "/api/surveys", dict.fromkeys(ACTORS, 401)),
    Route("lms.deep_link_picker", "POST", "/lms/deep-link", staff(), (400,)),
    Route("lms.retry_delivery", "POST", "/lms/grades/{ids[delivery]}/retry", staff_object()),
    Route("lms.roster_sync", "POST", "/lms/roster/sync", staff(), (400,)),
    Route("lms.launch", "POST", "/lms/launch", dict.fromkeys(ACTORS, 400)),
    # Refused unless the tool's own page posts it (Origin), then as a launch.
    Route("lms.launch_stored", "POST", "/lms/launch/stored", dict.fromkeys(ACTORS, 401)),
    Route("lms.login", "POST", "/lms/login", dict.fromkeys(ACTORS, 400)),
    Route(
        "recognition.withdraw",
        "POST",
        "/recognition/awards/{ids[award]}/revoke",
        {
            **with_roles(launched(), MANAGERS | {"administrator"}),
            "stranger_manager": 404,
            "stranger_trainer": 404,
            "course_b_manager": 404,
            "course_b_trainer": 404,
        },
        (400,),
    ),
    Route("people.ask_for_erasure", "POST", "/me/erasure", launched()),
    Route("people.programme_choice", "POST", "/programme/leave", launched()),
]

# The development platform is a stand-in LMS, off unless DEV_PLATFORM_ENABLED; it has no tool
# roles (see tests/core/test_settings.py for it being off in production).
NOT_TOOL_ROUTES = ("devplatform.",)
# Protected by LTI state and nonce, or by a bearer token, instead of a session's CSRF token.
EXEMPT = {"lms.launch", "lms.launch_stored", "lms.login", "insights.api_surveys"}


def test_every_route_is_in_the_table(app):
    table = {(r.endpoint, r.method) for r in ROUTES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(NOT_TOOL_ROUTES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in table:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert missing == [], "say who may use these routes in ROUTES"


def _status_ok(route: Route, status: int) -> bool:
    return 200 <= status < 400 or status in route.extra_ok


def test_every_route_as_every_role_and_tenant(app, world: World):
    """Each route in order, as each person; the answers are collected and compared at once so
    a failure lists every wrong answer, not just the first."""
    wrong: list[str] = []
    leaks: list[str] = []
    actors = world.actors()
    for route in ROUTES:
        path = route.path.format(ids=world.ids)
        for actor in ACTORS:
            browser = actors[actor]
            client = browser.client if browser else app.test_client()
            url = world.tara.tool_base + path
            if route.method == "GET":
                response = client.get(url)
            else:
                token = csrf_token_for(app, client) if browser else ""
                response = client.post(url, data={"csrf_token": token, **route.data})
            expected = route.expect[actor]
            if actor == "anonymous" and route.method == "POST" and route.endpoint not in EXEMPT:
                expected = 400  # no session, so no CSRF token: refused before anything else
            status = response.status_code
            good = _status_ok(route, status) if expected == OK else status == expected
            if not good:
                wrong.append(f"{route.id} as {actor}: {status}, expected {expected}")
            private = route.expect["anonymous"] != OK
            if status < 400 and private and actor in STRANGERS + OTHER_COURSE:
                names = TENANT_A_NAMES if actor in STRANGERS else LENAS_COURSE_PEOPLE
                text = response.get_data().decode(errors="replace")
                leaks += [f"{route.id} as {actor} shows {n!r}" for n in names if n in text]
    assert wrong == [] and leaks == [], "\n".join(["", *wrong, *leaks])


def test_every_form_needs_its_csrf_token(app, world: World):
    """Sent without the token by someone allowed to send it, every form is refused with the
    'form has expired' page; LTI login/launch and the token-authenticated API are exempt."""
    accepted = []
    for route in ROUTES:
        if route.method != "POST" or route.endpoint in EXEMPT:
            continue
        # A route nobody of this world may use (a shared platform's registration) is tried
        # by the role it is for: the token is checked before the rule.
        allowed = next(
            (a for a in ACTORS if route.expect[a] == OK and a != "anonymous"), "administrator"
        )
        browser = world.actors()[allowed]
        response = browser.client.post(world.tara.tool_base + route.path.format(ids=world.ids))
        if response.status_code != 400 or "This form has expired" not in page_text(response):
            accepted.append(f"{route.id} as {allowed}: {response.status_code}")
    assert accepted == []
