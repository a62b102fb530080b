"""A reusable security suite for every endpoint protected by a shared secret (metrics/core/secrets.py).

Like anymail's `WebhookBasicAuthTestCase`: subclass `SharedSecretSuite` in a class whose
name starts with `Test`, and define

- `setting`: the setting holding the comma-separated secrets (e.g. "POSTHOG_WEBHOOK_SECRET");
- `send(self, client, headers)`: send an otherwise valid request with these extra headers;
- `writes(self)`: a number that changes whenever the endpoint writes (e.g. a row count);

and optionally `header_forms`, `accepted_statuses`, `other_secret_settings` and
`open_in_debug`. pytest then runs every `test_` method below against that endpoint.
`tests/test_webhook_security.py` is an example.
"""

import logging
from http import HTTPStatus

import pytest
from django.http import HttpResponse
from django.test import Client

CURRENT = "current-secret-0123456789abcdef"
PREVIOUS = "previous-secret-0123456789abcd"


class SharedSecretSuite:
    setting: str
    # Ways to present the secret: "bearer" (Authorization: Bearer) and/or a header name.
    header_forms: tuple[str, ...] = ("bearer", "X-Webhook-Secret")
    accepted_statuses: tuple[int, ...] = (HTTPStatus.OK,)
    # Other settings that also protect the endpoint, blanked so `setting` alone decides.
    other_secret_settings: tuple[str, ...] = ()
    # Whether the endpoint accepts requests without a configured secret when DEBUG is on.
    open_in_debug: bool = True

    def send(self, client: Client, headers: dict[str, str]) -> HttpResponse:
        raise NotImplementedError

    def writes(self) -> int:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _configure(self, db, settings):
        for name in self.other_secret_settings:
            setattr(settings, name, "")
        setattr(settings, self.setting, f"{CURRENT}, {PREVIOUS}")
        settings.DEBUG = False
        self.settings = settings

    def headers(self, secret: str, form: str | None = None) -> dict[str, str]:
        form = form or self.header_forms[0]
        if form == "bearer":
            return {"Authorization": f"Bearer {secret}"}
        return {form: secret}

    def assert_refused(
        self, response: HttpResponse, before: int, status: int = HTTPStatus.UNAUTHORIZED
    ) -> None:
        assert response.status_code == status, response.content
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["ok"] is False and response.json()["error"]
        assert self.writes() == before, "a refused request wrote something"

    def test_correct_secret_is_accepted_in_every_header_form(self, client):
        for form in self.header_forms:
            before = self.writes()
            response = self.send(client, self.headers(CURRENT, form))
            assert response.status_code in self.accepted_statuses, (form, response.content)
            assert self.writes() > before, form

    def test_previous_secret_still_works_during_rotation(self, client):
        before = self.writes()
        response = self.send(client, self.headers(PREVIOUS))
        assert response.status_code in self.accepted_statuses, response.content
        assert self.writes() > before

    def test_removed_secret_stops_working_after_rotation(self, client):
        setattr(self.settings, self.setting, CURRENT)
        self.assert_refused(self.send(client, self.headers(PREVIOUS)), self.writes())

    def test_wrong_secret_of_the_same_length_is_refused(self, client):
        wrong = CURRENT[:-1] + ("X" if CURRENT[-1] != "X" else "Y")
        assert len(wrong) == len(CURRENT)
        for form in self.header_forms:
            self.assert_refused(self.send(client, self.headers(wrong, form)), self.writes())

    def test_missing_secret_is_refused(self, client):
        self.assert_refused(self.send(client, {}), self.writes())

    def test_other_authorization_schemes_are_refused(self, client):
        for header in (f"Basic {CURRENT}", CURRENT, "Bearer", "Bearer  "):
            self.assert_refused(self.send(client, {"Authorization": header}), self.writes())

    def test_non_ascii_secret_is_refused_not_a_server_error(self, client):
        for form in self.header_forms:
            for secret in ("currént-secret-0123456789abcde", CURRENT + "\u00e9", "\u2603" * 30):
                self.assert_refused(self.send(client, self.headers(secret, form)), self.writes())

    def test_secret_with_surrounding_text_is_refused(self, client):
        for secret in (CURRENT + "x", "x" + CURRENT, CURRENT[:-1], f"{CURRENT},{PREVIOUS}"):
            self.assert_refused(self.send(client, self.headers(secret)), self.writes())

    def test_no_secret_configured_refuses_everything_and_names_the_setting(self, client):
        setattr(self.settings, self.setting, "")
        before = self.writes()
        for headers in ({}, self.headers(CURRENT), self.headers("")):
            response = self.send(client, headers)
            self.assert_refused(response, before, status=HTTPStatus.SERVICE_UNAVAILABLE)
            assert self.setting in response.json()["error"]

    def test_blank_secrets_in_the_setting_match_nothing(self, client):
        setattr(self.settings, self.setting, f" , {CURRENT} ,")
        before = self.writes()
        self.assert_refused(self.send(client, {"Authorization": "Bearer "}), before)
        self.assert_refused(self.send(client, {"Authorization": "Bearer ,"}), before)

    def test_no_secret_configured_in_debug_is_open_with_a_warning(self, client, caplog):
        if not self.open_in_debug:
            pytest.skip("this endpoint stays closed without a secret, even with DEBUG on")
        setattr(self.settings, self.setting, "")
        self.settings.DEBUG = True
        before = self.writes()
        with caplog.at_level(logging.WARNING):
            response = self.send(client, {})
        assert response.status_code in self.accepted_statuses, response.content
        assert self.writes() > before
        # The warning must name the setting to set, not merely mention a secret.
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any(self.setting in message for message in warnings), warnings
