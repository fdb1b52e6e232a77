"""Conformance checks every connector gets: settings, secrets and ``check()``."""

from __future__ import annotations

import traceback

import pytest
from pydantic import ValidationError

from connectors.base import Connector
from hub.errors import FatalConnectorError
from hub.testing.harness import SECRETS, Harness, needs

#: Stands in for every secret in the settings; it must never be shown anywhere.
CANARY = "kontor-canary-Zq8v3nT"
_TYPO = "kontor_no_such_setting"


def _with_canary(harness: Harness, settings: dict[str, object]) -> dict[str, object]:
    """``settings`` with every secret they set replaced by the canary."""
    secrets = [n for n in harness.connector_class.settings_model.secret_fields()
               if settings.get(n) is not None]
    assert secrets, "uses_secrets: bad_settings() must set a SecretStr field"
    return {**settings, **dict.fromkeys(secrets, CANARY)}


class SettingsChecks:
    """Settings validate, secrets stay hidden, ``check()`` passes or fails clearly."""

    def test_settings_validate(self, kontor_harness: Harness) -> None:
        model = kontor_harness.connector_class.settings_model
        model.model_validate(kontor_harness.settings())
        with pytest.raises(ValidationError) as typo:
            model.model_validate({**kontor_harness.settings(), _TYPO: 1})
        assert _TYPO in str(typo.value), "an unknown setting must be named in the error"
        for bad in kontor_harness.invalid_settings():
            with pytest.raises(ValidationError) as info:
                model.model_validate(bad)
            # All problems at once: the typo is reported beside the invalid value.
            with pytest.raises(ValidationError) as both:
                model.model_validate({**bad, _TYPO: 1})
            assert both.value.error_count() > info.value.error_count(), \
                "every settings problem must be reported at once, not just the first"

    @needs(SECRETS)
    def test_secrets_are_never_shown(self, kontor_harness: Harness) -> None:
        model = kontor_harness.connector_class.settings_model
        raw = _with_canary(kontor_harness, kontor_harness.bad_settings())
        settings = model.model_validate(raw)
        connector = kontor_harness.connector_class(settings, system=kontor_harness.system,
                                                   base_dir=kontor_harness.base_dir)
        shown = [repr(settings), str(settings), repr(connector), settings.model_dump_json()]
        with pytest.raises(ValidationError) as info:
            model.model_validate({**raw, _TYPO: 1})
        shown.append(str(info.value))
        try:
            with pytest.raises(FatalConnectorError) as failed:
                connector.check()
        finally:
            connector.close()
        shown.append("".join(traceback.format_exception(failed.value)))
        for text in shown:
            assert CANARY not in text, "a secret value was shown"

    def test_check_passes(self, kontor_harness: Harness, kontor_connector: Connector) -> None:
        kontor_harness.seed([])
        kontor_connector.check()

    def test_check_fails_clearly_with_bad_settings(self, kontor_harness: Harness) -> None:
        kontor_harness.seed([])
        bad = kontor_harness.connector(kontor_harness.bad_settings())
        try:
            with pytest.raises(FatalConnectorError) as info:
                bad.check()
        finally:
            bad.close()
        assert kontor_harness.system in str(info.value), "the error must name the system"
