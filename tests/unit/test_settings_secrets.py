"""Secrets left at their documented development defaults are refused outside dev mode."""

from __future__ import annotations

import pytest

from gavel.settings import DEV_JWT_SECRET, Settings


@pytest.mark.parametrize("name", ["jwt_secret", "page_token_secret"])
def test_a_default_secret_is_refused_outside_dev_mode(name: str) -> None:
    with pytest.raises(SystemExit, match=f"GAVEL_{name.upper()}"):
        Settings(dev_mode=False).secret(name)


def test_a_set_secret_is_used_outside_dev_mode_and_the_default_in_dev_mode() -> None:
    assert Settings(dev_mode=False, jwt_secret="s3cret").secret("jwt_secret") == "s3cret"
    assert Settings().secret("jwt_secret") == DEV_JWT_SECRET
