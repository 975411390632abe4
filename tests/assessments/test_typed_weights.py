"""A rubric's weights are typed numbers, read the way people write them."""

from __future__ import annotations

from assessments.models import Rubric, RubricVersion
from tests.assessments.test_rubrics_and_calibration import edit_form
from tests.courses.flow import post, rows, text


def builtin_definition(app):
    builtin = next(r for r in rows(app, Rubric) if r.platform_id is None)
    version = next(v for v in rows(app, RubricVersion) if v.rubric_id == builtin.id)
    return builtin, version.definition


def test_a_weight_with_a_decimal_comma_is_read_and_not_a_number_is_refused(app, lti):
    lti.launch_and_follow("trainer")
    text(lti.client.get(lti.tool_base + "/assessments/rubrics"))  # creates the built-in rubric
    builtin, definition = builtin_definition(app)
    refused = post(
        lti,
        f"/assessments/rubrics/{builtin.id}/edit",
        edit_form(definition, name="Ours", c0_weight="nan"),
    )
    assert refused.status_code == 400  # float() read "nan" and the schema's bounds let it in
    assert [r for r in rows(app, Rubric) if r.platform_id is not None] == []
    saved = post(
        lti,
        f"/assessments/rubrics/{builtin.id}/edit",
        edit_form(definition, name="Ours", c0_weight="12,5"),
    )
    assert saved.status_code == 302  # was "'12,5' is not of type 'number'"
    (own,) = [r for r in rows(app, Rubric) if r.platform_id is not None]
    (version,) = [v for v in rows(app, RubricVersion) if v.rubric_id == own.id]
    assert version.definition["criteria"][0]["weight"] == 12.5
