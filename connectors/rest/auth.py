"""Authentication schemes as ``requests`` auth objects.

Each adds its header just before a request leaves, so secrets live only in the settings'
``SecretStr`` fields and in the outgoing request, never in the session's defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.rest.settings import RestSettings
from hub.errors import FatalConnectorError

#: Renew a token this many seconds before the server says it expires.
EXPIRY_MARGIN = 30.0

#: ``post(url, data, auth)`` → response: the token request, with the client's retries.
TokenPost = Callable[[str, dict[str, str], AuthBase | None], requests.Response]


class HeaderAuth(AuthBase):
    """A fixed header: ``Authorization: Bearer …`` or an API key header."""

    def __init__(self, header: str, value: Callable[[], str]):
        self.header = header
        self._value = value  # a callable, so the secret is not kept in a plain attribute

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self._value()
        return request


class OAuth2ClientCredentials(AuthBase):
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4), token cached until it expires."""

    def __init__(self, settings: RestSettings, system: str, post: TokenPost):
        self.settings = settings
        self.system = system
        self._post = post
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetched = 0  # tokens obtained so far (for tests and logs)

    def invalidate(self) -> None:
        """Forget the token: the next request fetches a new one (after a 401)."""
        self._token = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None or time.monotonic() >= self._expires_at:
            self._fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _fetch(self) -> None:
        s = self.settings
        assert s.token_url and s.client_id and s.client_secret  # ensured by the settings
        secret = s.client_secret.get_secret_value()
        data = {"grant_type": "client_credentials"}
        if s.scope:
            data["scope"] = s.scope
        auth: AuthBase | None = None
        if s.client_auth == "basic":
            auth = HTTPBasicAuth(s.client_id, secret)
        else:
            data.update(client_id=s.client_id, client_secret=secret)
        response = self._post(s.token_url, data, auth)
        if response.status_code != 200:
            raise FatalConnectorError(
                f"{self.system}: the token endpoint refused the client credentials "
                f"(HTTP {response.status_code})")
        try:
            body: Any = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise FatalConnectorError(f"{self.system}: the token endpoint's answer has no "
                                      "access_token (not an OAuth 2.0 token response)") from None
        self._token = str(token)
        self._expires_at = time.monotonic() + max(lifetime - EXPIRY_MARGIN, 0.0)
        self.fetched += 1


def build_auth(settings: RestSettings, system: str, post: TokenPost) -> AuthBase | None:
    """The auth object for the configured scheme (None for ``auth: none``)."""
    s = settings
    if s.auth == "basic":
        assert s.username is not None and s.password is not None
        return HTTPBasicAuth(s.username, s.password.get_secret_value())
    if s.auth == "bearer":
        token = s.token
        assert token is not None
        return HeaderAuth("Authorization", lambda: f"Bearer {token.get_secret_value()}")
    if s.auth == "api_key":
        key = s.api_key
        assert key is not None
        return HeaderAuth(s.api_key_header, key.get_secret_value)
    if s.auth == "oauth2":
        return OAuth2ClientCredentials(s, system, post)
    return None
