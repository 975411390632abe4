"""OIDC login and message launch on top of pylti1p3, closing the gaps it leaves open.

pylti1p3 gives the protocol skeleton. This module adds what real platforms and attackers
need: a nonce that works once, clock leeway, 400s for unknown registrations instead of bare
exceptions, a JWKS cache in the database that refetches once for an unknown ``kid``, strict
claim checks with clear messages, and support for anonymous launches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from flask import make_response, render_template
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.contrib.flask.cookie import FlaskCookieService
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy.orm import Session

from core.cache import process_cache
from core.config import Settings
from core.db import db, utcnow
from lms import id_tokens
from lms.errors import STATE_HINT, LaunchRefused, LaunchUnauthenticated
from lms.models import PlatformKeySet
from lms.platform_storage import (
    ANSWER_TIMEOUT_MS,
    StoredLogin,
    login_secret,
    nonce_key,
    origin_of,
    state_key,
    storage_state,
    target_in_state,
)
from lms.storage import DatabaseLaunchDataStorage
from lms.tool_config import DatabaseToolConf, DeploymentRef, PlatformRef

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
ROLES = CLAIM + "roles"
DEPLOYMENT_ID = CLAIM + "deployment_id"
RESOURCE_LINK = CLAIM + "resource_link"
CONTEXT = CLAIM + "context"
CUSTOM = CLAIM + "custom"
TARGET_LINK_URI = CLAIM + "target_link_uri"

DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGE_TYPES = frozenset({RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST})
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
JWKS_FETCH_TIMEOUT = 5


class PartitionedCookieService(FlaskCookieService):
    """pylti1p3's state cookie, ``Partitioned`` over HTTPS like the session (CHIPS): a browser
    that blocks third-party cookies still keeps it inside the LMS's frame, so the launch
    finds it. pylti1p3 gives no way to add the attribute, hence its one method rewritten."""

    def update_response(self, response: Any) -> None:
        secure = bool(self._request.is_secure())
        for name, cookie in self._cookie_data_to_set.items():
            response.set_cookie(
                name,
                cookie["value"],
                max_age=cookie["exp"],
                path="/",
                httponly=True,
                secure=secure,
                samesite="None" if secure else None,
                partitioned=secure,
            )


class _OnToolStorage:
    """What the tool's login and launch share: pylti1p3's object on the partitioned state
    cookie and the database storage (``lms.storage``)."""

    def __init__(
        self,
        request: FlaskRequest,
        tool_config: DatabaseToolConf,
        storage: DatabaseLaunchDataStorage,
        **pylti_options: Any,
    ) -> None:
        super().__init__(
            request,
            tool_config,
            cookie_service=PartitionedCookieService(request),
            launch_data_storage=storage,
            **pylti_options,
        )
        self._storage = storage


# pylti1p3 builds a requests.Session for every launch (0.1 ms: adapters, pools, headers) for
# its service calls; this tool makes those with its own client (``lms.platform_client``) and
# fetches keys itself (``fetch_key_set``), so the launch gets one that is never used.
_UNUSED_HTTP_SESSION = requests.Session()


class ToolLogin(_OnToolStorage, FlaskOIDCLogin):
    """Third-party initiated login, with our own cookie check (CSP-safe, styled).

    pylti1p3's check costs a framed launch one more request: its page makes no state, and its
    script comes back to the login for the state and nonce. Ours makes them at once (the
    nonce signed, see ``lms.storage``) and sets the state cookie with the page, whose script
    goes straight on to the platform when the browser keeps cookies here; when it does not,
    the page offers ``new_window_url``, a login in a new window with its own state and nonce.
    Either way a nonce is used at most once.

    Where the platform offers its storage (``storage_target``), the page also keeps the state
    and nonce there before it goes on (``lms.platform_storage``), so that a launch whose state
    cookie did not come back can still be checked."""

    def __init__(
        self,
        request: FlaskRequest,
        tool_config: DatabaseToolConf,
        storage: DatabaseLaunchDataStorage,
        new_window_url: str,
        storage_target: str | None = None,
    ) -> None:
        super().__init__(request, tool_config, storage)
        self._new_window_url = new_window_url
        self._storage_target = storage_target
        self._login_secret = ""

    def _generate_nonce(self) -> str:
        return self._storage.issue_nonce()  # signed, so the login stores nothing

    def _get_uuid(self) -> str:
        # pylti1p3 asks for one only to make the state: with platform storage, the hash of a
        # secret kept there, marked with the storage target (``lms.platform_storage``).
        if self._storage_target is None:
            return super()._get_uuid()
        self._login_secret = login_secret()
        return storage_state(self._login_secret, self._storage_target)

    def _platform_storage(self, platform_url: str) -> dict[str, Any] | None:
        """What the page's script needs to keep the state and nonce in the platform's frame."""
        if self._storage_target is None:
            return None
        auth = parse_qs(urlsplit(platform_url).query)
        state, nonce = auth["state"][0], auth["nonce"][0]
        return {
            "target": self._storage_target,
            "origin": origin_of(platform_url),  # the platform's OIDC auth origin
            "timeout": ANSWER_TIMEOUT_MS,
            "put": [[state_key(state), self._login_secret], [nonce_key(nonce), nonce]],
        }

    def redirect(self, launch_url: str, js_redirect: bool = False) -> Any:
        onward = self.get_redirect_object(launch_url)  # signs the nonce, queues the cookie
        if not self._cookies_check or self._is_new_window_request():
            return onward.do_redirect()
        platform_url = onward.get_redirect_url()
        page = make_response(
            render_template(
                "lms/cookie_check.html",
                platform_url=platform_url,
                new_window_url=self._new_window_url,
                platform_storage=self._platform_storage(platform_url),
            )
        )
        self._cookie_service.update_response(page)
        return page


def login_params(get: Any) -> dict[str, str]:
    names = (
        "iss",
        "login_hint",
        "target_link_uri",
        "lti_message_hint",
        "lti_deployment_id",
        "client_id",
    )
    return {name: value for name in names if (value := get(name))}


def check_login_request(params: dict[str, str], own_host: str) -> None:
    for required in ("iss", "login_hint", "target_link_uri"):
        if not params.get(required):
            raise LaunchRefused(f"The login request from the LMS has no {required}.")
    target_host = urlsplit(params["target_link_uri"]).netloc
    if target_host != own_host:
        raise LaunchRefused(
            f"The LMS asked to open {params['target_link_uri']}, which is not on this tool's "
            f"host ({own_host}). Check the tool URL configured in the LMS."
        )


@dataclass
class ValidatedLaunch:
    platform: PlatformRef
    deployment: DeploymentRef
    claims: dict[str, Any]
    launch_id: str

    @property
    def message_type(self) -> str:
        return self.claims[MESSAGE_TYPE]

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == DEEP_LINKING_REQUEST

    @property
    def is_anonymous(self) -> bool:
        return "sub" not in self.claims

    @property
    def custom(self) -> dict[str, Any]:
        return self.claims.get(CUSTOM) or {}


class ToolMessageLaunch(_OnToolStorage, FlaskMessageLaunch):
    """Validates an id_token launch. Every check raises ``LaunchRefused`` with a clear reason."""

    def __init__(
        self,
        request: FlaskRequest,
        tool_config: DatabaseToolConf,
        storage: DatabaseLaunchDataStorage,
        settings: Settings,
        stored: StoredLogin | None = None,
    ) -> None:
        super().__init__(request, tool_config, storage, requests_session=_UNUSED_HTTP_SESSION)
        self._settings = settings
        self._conf = tool_config
        # What the launch page read from the platform's storage, in place of the state cookie.
        self._stored = stored

    def platform_storage_target(self) -> str | None:
        """Where the login kept this launch's state and nonce, when the state cookie did not
        come back and the login offered them to the platform's storage; else None (and the
        launch is checked against the cookie as usual)."""
        state = self._get_request_param("state")
        if not state or self._cookie_service.get_cookie(state) == state:
            return None
        return target_in_state(state)

    def storage_request(self, target: str) -> dict[str, Any]:
        """Everything but the state and nonce checked (nothing spent or written), then what
        the launch page needs to read them from the platform's storage: the id_token must be
        a genuine launch to this tool before a page is made for it."""
        try:
            self._require_state_and_token()
            self.validate_jwt_format()
            self.validate_registration()
            self.validate_jwt_signature()
            self.validate_message()
            self.validate_deployment()
        except (LtiException, OIDCException) as error:
            raise LaunchRefused(str(error)) from error
        auth_url = self._registration.get_auth_login_url()
        assert auth_url is not None
        state = self._get_request_param("state")
        return {
            "target": target,
            "origin": origin_of(auth_url),  # the only origin the page talks to
            "timeout": ANSWER_TIMEOUT_MS,
            "get": [[state_key(state)], [nonce_key(self._jwt["body"]["nonce"])]],
        }

    # -- the whole pipeline, reordered: the nonce is spent only once everything else passed
    def validate(self) -> ToolMessageLaunch:
        if self._restored:
            raise LaunchRefused("A stored launch cannot be validated again.")
        self._validated = True
        try:
            self.validate_state()
            self.validate_jwt_format()
            self.validate_registration()
            self.validate_jwt_signature()
            self.validate_message()
            self.validate_deployment()
            self.validate_nonce()
            self.save_launch_data()
        except LaunchRefused:
            self._validated = False
            raise
        except (LtiException, OIDCException) as error:
            self._validated = False
            raise LaunchRefused(str(error)) from error
        return self

    def _require_state_and_token(self) -> str:
        state = self._get_request_param("state")
        if not state:
            raise LaunchRefused("The launch has no state parameter.")
        if not self._get_request_param("id_token"):
            raise LaunchRefused("The launch has no id_token.")
        return state

    def validate_state(self) -> ToolMessageLaunch:
        state = self._require_state_and_token()
        if self._stored is not None:
            if target_in_state(state) is None:
                raise LaunchUnauthenticated(
                    "This launch's login did not use the course page's storage.",
                    hint=STATE_HINT,
                )
            self._stored.check_state(state)
        elif self._cookie_service.get_cookie(state) != state:
            raise LaunchUnauthenticated(
                "The launch's state does not match this browser's login.", hint=STATE_HINT
            )
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        try:
            super().validate_jwt_format()
        except LtiException as error:
            raise LaunchRefused("The id_token is not a readable JWT.") from error
        if not isinstance(self._jwt.get("body"), dict) or not isinstance(
            self._jwt.get("header"), dict
        ):
            raise LaunchRefused("The id_token is not a readable JWT.")
        return self

    def validate_registration(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        iss = body.get("iss")
        if not isinstance(iss, str) or not iss:
            raise LaunchRefused("The id_token has no issuer (iss).")
        client_id = self._client_id_from_aud(body)
        platform = self._conf.find_platform(iss, client_id)
        if platform is None:
            raise LaunchRefused(
                f"No LMS is registered with issuer {iss} and client id {client_id}.",
                title="This LMS is not registered with the tool",
            )
        self._conf.platform = platform
        self._registration = self._conf.find_registration_by_params(iss, client_id)
        return self

    @staticmethod
    def _client_id_from_aud(body: dict[str, Any]) -> str:
        aud = body.get("aud")
        if isinstance(aud, str) and aud:
            return aud
        if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            if len(aud) == 1:
                return aud[0]
            azp = body.get("azp")
            if isinstance(azp, str) and azp in aud:
                return azp
            raise LaunchRefused("The id_token has several audiences but no matching azp.")
        raise LaunchRefused("The id_token has no audience (aud).")

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        header = self._jwt["header"]
        kid, alg = header.get("kid"), header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise LaunchUnauthenticated(f"The id_token is signed with {alg!r}; RS256 is required.")
        if not isinstance(kid, str) or not kid:
            raise LaunchUnauthenticated("The id_token header names no key (kid).")
        key = self._platform_public_key(kid, alg)
        client_id = self._registration.get_client_id()
        try:
            id_tokens.decode(
                self._get_id_token(),
                key,
                algorithms=[alg],
                audience=client_id,
                issuer=self._registration.get_issuer(),
                leeway=self._settings.LTI_CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise LaunchUnauthenticated(
                "The launch expired before it reached us. Open the activity again; if every "
                "launch from this LMS fails like this, its clock is probably behind ours "
                "(synchronise both with NTP).",
            ) from error
        except jwt.ImmatureSignatureError as error:
            raise LaunchUnauthenticated(
                "The launch is dated in the future; the LMS's clock and ours disagree by more "
                f"than {self._settings.LTI_CLOCK_LEEWAY_SECONDS} seconds."
            ) from error
        except jwt.InvalidAudienceError as error:
            raise LaunchUnauthenticated("The id_token is not addressed to this tool.") from error
        except jwt.InvalidIssuerError as error:
            raise LaunchUnauthenticated("The id_token's issuer does not match.") from error
        except jwt.InvalidTokenError as error:
            raise LaunchUnauthenticated(f"The id_token failed verification: {error}.") from error
        return self

    def _platform_public_key(self, kid: str, alg: str) -> Any:
        """The platform's key ``kid`` from its JWKS. Parsed keys are kept per process with the
        registration snapshot: a key id names one key, and a new id is looked up afresh."""
        platform = self._conf.platform
        assert platform is not None
        cache = process_cache()
        memo_key = ("public-key", platform.id, kid, alg)
        key = cache.get(memo_key)
        if key is None:
            key = self._load_public_key(platform, kid, alg)
            cache.put(memo_key, key)
        return key

    def _load_public_key(self, platform: PlatformRef, kid: str, alg: str) -> Any:
        key_set = self._key_set(platform, refetch=False)
        jwk = _find_jwk(key_set, kid)
        if jwk is None:
            # The platform may have rotated its keys (Canvas does monthly): look once more.
            key_set = self._key_set(platform, refetch=True)
            jwk = _find_jwk(key_set, kid)
        if jwk is None:
            raise LaunchUnauthenticated(f"The LMS has published no key with id {kid}.")
        if jwk.get("alg", "RS256") != alg:
            raise LaunchUnauthenticated("The id_token's algorithm does not match its key.")
        try:
            return jwt.PyJWK.from_dict(jwk, algorithm=alg).key
        except (jwt.PyJWKError, ValueError, TypeError) as error:
            raise LaunchUnauthenticated(f"The LMS's key {kid} is not a valid RSA key.") from error

    def _key_set(self, platform: PlatformRef, *, refetch: bool) -> dict[str, Any]:
        return platform_key_set(db.session, platform, self._settings, refetch=refetch)

    def validate_message(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        message_type = body.get(MESSAGE_TYPE)
        if not message_type:
            raise LaunchRefused("The id_token has no message_type claim.")
        if message_type not in SUPPORTED_MESSAGE_TYPES:
            raise LaunchRefused(
                f"This tool does not handle {message_type} messages.",
                title="Unsupported kind of launch",
            )
        if body.get(VERSION) != "1.3.0":
            raise LaunchRefused("The launch is not LTI version 1.3.0.")
        if "sub" in body and (not isinstance(body["sub"], str) or not body["sub"].strip()):
            raise LaunchRefused("The id_token's sub claim is empty.")
        roles = body.get(ROLES)
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise LaunchRefused("The id_token has no roles claim (a list, possibly empty).")
        deployment_id = body.get(DEPLOYMENT_ID)
        if not isinstance(deployment_id, str) or not deployment_id:
            raise LaunchRefused("The id_token has no deployment_id claim.")
        if message_type == DEEP_LINKING_REQUEST:
            _check_deep_linking_settings(body.get(DEEP_LINKING_SETTINGS))
        else:
            resource_link = body.get(RESOURCE_LINK)
            if not isinstance(resource_link, dict) or not resource_link.get("id"):
                raise LaunchRefused("The launch has no resource link id.")
        context = body.get(CONTEXT)
        if context is not None and (not isinstance(context, dict) or not context.get("id")):
            raise LaunchRefused("The launch's context claim has no id.")
        custom = body.get(CUSTOM)
        if custom is not None and not isinstance(custom, dict):
            raise LaunchRefused("The launch's custom claim is not an object.")
        if not isinstance(body.get("nonce"), str):
            raise LaunchRefused("The id_token has no nonce.")
        return self

    def validate_deployment(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        found = self._conf.find_deployment_by_params(
            body["iss"], body[DEPLOYMENT_ID], self._registration.get_client_id()
        )
        if found is None:
            raise LaunchRefused(
                f"Deployment {body[DEPLOYMENT_ID]} is not registered for this LMS.",
                title="This LMS deployment is not registered with the tool",
            )
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        nonce = self._jwt["body"]["nonce"]
        if self._stored is not None:
            self._stored.check_nonce(nonce)
        if not self._storage.consume_nonce(nonce):
            raise LaunchUnauthenticated(
                "This launch was already used or its login expired. Open the activity again."
            )
        return self

    def save_launch_data(self) -> ToolMessageLaunch:
        # Only a deep-linking request is needed again (its response echoes the request's
        # settings); a resource-link launch keeps what later requests need in its own rows
        # (resource link, services), so its claims are not stored: less personal data kept,
        # and one write less per launch. pylti1p3's state-to-token marker is never written:
        # it would let the same token in again.
        if self._jwt["body"].get(MESSAGE_TYPE) == DEEP_LINKING_REQUEST:
            self._session_service.save_launch_data(self._launch_id, self._jwt["body"])
        return self

    def validated(self) -> ValidatedLaunch:
        self.validate()
        assert self._conf.platform is not None and self._conf.deployment is not None
        return ValidatedLaunch(
            platform=self._conf.platform,
            deployment=self._conf.deployment,
            claims=dict(self._jwt["body"]),
            launch_id=self.get_launch_id(),
        )


def _check_deep_linking_settings(settings: Any) -> None:
    if not isinstance(settings, dict):
        raise LaunchRefused("The content selection request has no deep_linking_settings.")
    return_url = settings.get("deep_link_return_url")
    if not isinstance(return_url, str) or urlsplit(return_url).scheme not in {"http", "https"}:
        raise LaunchRefused("The content selection request has no deep_link_return_url.")
    accept = settings.get("accept_types")
    if not isinstance(accept, list) or "ltiResourceLink" not in accept:
        raise LaunchRefused(
            "The LMS does not accept links to activities (ltiResourceLink) here, which is "
            "the only kind of content this tool offers."
        )


def _find_jwk(key_set: dict[str, Any], kid: str) -> dict[str, Any] | None:
    keys = key_set.get("keys") if isinstance(key_set, dict) else None
    for key in keys or []:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def platform_key_set(
    session: Session, platform: PlatformRef, settings: Settings, *, refetch: bool
) -> dict[str, Any]:
    """The platform's JWKS from the database cache, fetched over HTTP when missing or stale,
    and once more on ``refetch`` (unknown kid) unless it was fetched very recently."""
    cached = session.get(PlatformKeySet, platform.id)
    now = utcnow()
    if cached is not None:
        age = now - cached.fetched_at
        if not refetch and age < timedelta(seconds=settings.LTI_JWKS_CACHE_SECONDS):
            return cached.jwks
        if refetch and age < timedelta(seconds=settings.LTI_JWKS_MIN_REFETCH_SECONDS):
            return cached.jwks
    jwks = fetch_key_set(platform.key_set_url)
    # The cache is written in its own short transaction: it is public data, and keeping it
    # makes a flood of bad tokens cost us no more fetches than the refetch limit allows.
    with Session(session.get_bind()) as own:
        entry = own.get(PlatformKeySet, platform.id)
        if entry is None:
            own.add(PlatformKeySet(platform_id=platform.id, jwks=jwks, fetched_at=now))
        else:
            entry.jwks, entry.fetched_at = jwks, now
        own.commit()
    if cached is not None:
        session.expire(cached)
    return jwks


def fetch_key_set(url: str) -> dict[str, Any]:
    try:
        response = requests.get(
            url, timeout=JWKS_FETCH_TIMEOUT, headers={"Accept": "application/json"}
        )
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, json.JSONDecodeError, ValueError) as error:
        raise LaunchRefused(
            f"We could not read the LMS's public keys from {url}.",
            title="Could not verify the launch",
        ) from error
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise LaunchRefused(
            f"The LMS's key set at {url} is not a JWK set.", title="Could not verify the launch"
        )
    return data
