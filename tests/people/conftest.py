from tests.courses.conftest import packs  # noqa: F401 - shared fixture
