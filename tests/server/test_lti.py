"""The LTI 1.3 hub settings (workbench.server.lti): read from the environment, failing with the variable's name.

The launch itself runs against a real hub and a fake LMS in tests/browser/test_workbench_lti.py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from workbench.errors import ValidationError
from workbench.server.lti import lti13_settings, playbook_next_url

ENV = {
    "WORKBENCH_LTI_ISSUER": "https://lms.example.org",
    "WORKBENCH_LTI_CLIENT_ID": "tool-1, tool-2",
    "WORKBENCH_LTI_JWKS_URL": "https://lms.example.org/jwks",
    "WORKBENCH_LTI_AUTHORIZE_URL": "https://lms.example.org/authorize",
}


def test_settings_come_from_the_environment_with_sub_as_the_user_name() -> None:
    assert lti13_settings(ENV) == {
        "issuer": "https://lms.example.org", "client_id": {"tool-1", "tool-2"},
        "jwks_endpoint": "https://lms.example.org/jwks", "authorize_url": "https://lms.example.org/authorize",
        "username_key": "sub",
    }  # fmt: skip
    assert lti13_settings({**ENV, "WORKBENCH_LTI_USERNAME_CLAIM": "custom_lms_user_id"})["username_key"] == (
        "custom_lms_user_id"
    )


@pytest.mark.parametrize("var", sorted(ENV))
def test_a_missing_setting_names_its_variable(var: str) -> None:
    with pytest.raises(ValidationError) as err:
        lti13_settings({**ENV, var: " "})
    assert err.value.field == var and var in err.value.message and err.value.hint


@pytest.mark.parametrize("claim", ["email", "name", "given_name", "Email", "custom_email"])
def test_a_name_or_address_is_refused_as_the_user_name(claim: str) -> None:
    with pytest.raises(ValidationError, match="person's name or address") as err:
        lti13_settings({**ENV, "WORKBENCH_LTI_USERNAME_CLAIM": claim})
    assert "sub" in (err.value.hint or "")


def test_a_launch_goes_through_spawn_to_the_playbooks_launch_page() -> None:
    url = urlparse(playbook_next_url("/hub/", "/user/u-1/", "u-1", "a b/../x"))
    assert url.path == "/hub/spawn/u-1"
    # The id is quoted into one path segment: it cannot climb out of workbench/launch/.
    assert parse_qs(url.query)["next"] == ["/user/u-1/workbench/launch/a%20b%2F..%2Fx"]
