"""Each process keeps the courses' rows for a while (every course page reads one): a new
version imported in the process shows at once, one imported elsewhere within
``LTI_REGISTRY_CACHE_SECONDS``."""

from __future__ import annotations

import time
from pathlib import Path

from core.cache import ProcessCache
from tests.courses.flow import browser, get, text
from tests.courses.test_import import copy_pack


def second_edition(pack: Path) -> None:
    course_yaml = pack / "course.yaml"
    course_yaml.write_text(
        course_yaml.read_text()
        .replace("title: Survey basics", "title: Survey basics, second edition")
        .replace('version: "1.0"', 'version: "1.1"')
    )


def test_a_new_version_imported_in_this_process_shows_at_once(app, lti, runner, tmp_path):
    pack = copy_pack(tmp_path)
    assert runner.invoke(args=["courses", "import", str(pack)]).exit_code == 0
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    assert "second edition" not in text(get(learner, "/courses/basics/"))
    second_edition(pack)
    assert runner.invoke(args=["courses", "import", str(pack)]).exit_code == 0
    assert "Survey basics, second edition" in text(get(learner, "/courses/basics/"))


def test_another_process_sees_a_new_version_once_its_snapshot_expires(app, lti, make_app, tmp_path):
    app.extensions["process_cache"] = ProcessCache(0.5)
    pack = copy_pack(tmp_path)
    elsewhere = make_app().test_cli_runner()  # "another process": its own app and cache
    assert elsewhere.invoke(args=["courses", "import", str(pack)]).exit_code == 0
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    assert "Survey basics" in text(get(learner, "/courses/basics/"))  # now remembered here
    second_edition(pack)
    assert elsewhere.invoke(args=["courses", "import", str(pack)]).exit_code == 0
    assert "second edition" not in text(get(learner, "/courses/basics/"))  # the snapshot
    time.sleep(0.6)
    assert "Survey basics, second edition" in text(get(learner, "/courses/basics/"))
