"""Page fixtures: the served app with a city (tests/api/conftest.py) and signed-in browsers
without a browser (tests/support/pages.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.api.conftest import PASSWORD, Api, shared_api, shared_city  # noqa: F401
from tests.support.pages import Pages


@pytest.fixture(scope="module")
def pages(shared_api: Api, shared_city: dict[str, object]) -> Iterator[Callable[[str], Pages]]:  # noqa: F811
    """``pages("official_a")``: a page client signed in as that user (one per module)."""
    made: dict[str, Pages] = {}

    def signed_in(username: str) -> Pages:
        if username not in made:
            client = Pages(shared_api.base)
            r = client.sign_in(username, PASSWORD)
            assert r.status_code == 303, r.text
            made[username] = client
        return made[username]

    yield signed_in
    for client in made.values():
        client.close()
