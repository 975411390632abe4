"""A built-in LTI 1.3 platform for the demo and the tests: its own keys, OIDC auth endpoint and
JWKS, launching the tool through the real flow. Registered only when DEV_PLATFORM_ENABLED."""

from flask import Flask


def init_app(app: Flask) -> None:
    import lms.devplatform.models  # noqa: F401 - its tables exist whether or not it is enabled

    if not app.config.get("DEV_PLATFORM_ENABLED"):
        return
    from core.demo import register_demo_loader
    from core.security import register_frame_ancestor_source
    from core.views import register_home_link
    from lms.devplatform.service import load_demo, platform_other_site
    from lms.devplatform.views import bp

    app.register_blueprint(bp)
    register_frame_ancestor_source(app, platform_other_site)
    register_home_link(app, "Try a launch from the development platform", "devplatform.index")
    register_demo_loader(app, load_demo)
