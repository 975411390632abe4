"""`flask courses import` and the trainer's zip upload: all or nothing, versions respected."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from courses.models import Course, CourseVersion
from tests.courses.flow import get, rows, text
from tests.lti import csrf_token_for, row_counts

PACKS = Path(__file__).parents[1] / "data" / "packs"


def copy_pack(tmp_path: Path, name: str = "basics") -> Path:
    return Path(shutil.copytree(PACKS / name, tmp_path / name))


def test_import_then_reimport_unchanged(app, runner, tmp_path):
    pack = copy_pack(tmp_path)
    first = runner.invoke(args=["courses", "import", str(pack)])
    assert first.exit_code == 0, first.output
    assert "[1/1] basics 1.0: created" in first.output
    second = runner.invoke(args=["courses", "import", str(pack)])
    assert "basics 1.0: unchanged" in second.output
    assert len(rows(app, CourseVersion)) == 1
    listed = runner.invoke(args=["courses", "list"])
    assert "basics" in listed.output and "Survey basics" in listed.output


def test_changed_content_needs_a_new_version(app, runner, tmp_path):
    pack = copy_pack(tmp_path)
    runner.invoke(args=["courses", "import", str(pack)])
    lesson = pack / "m1" / "groups.md"
    lesson.write_text(lesson.read_text() + "\nA new paragraph.\n")
    refused = runner.invoke(args=["courses", "import", str(pack)])
    assert refused.exit_code == 1
    assert "changed but its version is still 1.0. Bump `version`" in refused.output
    course_yaml = pack / "course.yaml"
    course_yaml.write_text(course_yaml.read_text().replace('version: "1.0"', 'version: "1.1"'))
    published = runner.invoke(args=["courses", "import", str(pack)])
    assert "basics 1.1: updated" in published.output
    assert sorted(v.version for v in rows(app, CourseVersion)) == ["1.0", "1.1"]
    (course,) = rows(app, Course)
    assert course.version == "1.1"


def test_one_bad_pack_means_nothing_is_imported(app, runner, tmp_path):
    good = copy_pack(tmp_path, "charter")
    bad = copy_pack(tmp_path, "basics")
    (bad / "m2" / "check.yaml").write_text("questions: []\n")
    before = row_counts(app)
    result = runner.invoke(args=["courses", "import", str(good), str(bad)])
    assert result.exit_code == 1
    assert "Nothing was imported." in result.output
    assert "m2/check.yaml:1: questions: [] should be non-empty" in result.output
    assert row_counts(app) == before


def test_check_only_validates(app, runner, tmp_path):
    result = runner.invoke(args=["courses", "import", "--check", str(copy_pack(tmp_path))])
    assert result.exit_code == 0 and "ok (basics 1.0)" in result.output
    assert rows(app, Course) == []


def test_check_reports_item_writing_per_pack_and_for_the_curriculum(app, runner):
    result = runner.invoke(args=["courses", "import", "--check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    per_pack = [ln for ln in lines if ln.startswith("  item writing: right option longest in")]
    assert len(per_pack) == len([ln for ln in lines if ": ok (" in ln]) >= 8
    total = next(ln for ln in lines if ln.startswith("All valid packs, item writing:"))
    assert "0 with options of uneven length" in total


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in folder.rglob("*"):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()


def upload(app, lti, data: bytes, filename: str = "basics.zip"):
    return lti.client.post(
        lti.tool_base + "/courses/import",
        data={
            "csrf_token": csrf_token_for(app, lti.client),
            "pack": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def test_a_trainer_uploads_a_zipped_pack(app, lti, tmp_path):
    lti.launch_and_follow("trainer")
    response = upload(app, lti, _zipped(copy_pack(tmp_path)))
    assert response.status_code == 302
    assert "Added the course Survey basics (1.0)." in text(get(lti, "/courses/"))


def test_a_broken_upload_lists_its_problems_and_changes_nothing(app, lti, tmp_path):
    lti.launch_and_follow("trainer")
    pack = copy_pack(tmp_path)
    (pack / "m1" / "groups.md").unlink()
    before = row_counts(app)
    response = upload(app, lti, _zipped(pack))
    assert response.status_code == 400
    assert "course.yaml 23 file 'm1/groups.md' is not in the pack" in text(response)
    assert row_counts(app) == before
    wrong_type = upload(app, lti, b"hello", "notes.txt")
    assert wrong_type.status_code == 302
    assert "Upload the pack as a .zip file." in text(get(lti, "/courses/"))


def test_learners_cannot_upload(app, lti, tmp_path):
    lti.launch_and_follow("learner")
    assert upload(app, lti, _zipped(copy_pack(tmp_path))).status_code == 403
    assert rows(app, Course) == []
