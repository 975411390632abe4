from tests.recognition.conftest import badges  # noqa: F401 - shared fixture
