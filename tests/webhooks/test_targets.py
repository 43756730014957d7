"""Webhook targets: internal addresses refused in every spelling, unless allow-listed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from docmgmt.webhooks.sender import error_category
from docmgmt.webhooks.targets import TargetPolicy, WebhookTargetRefusedError


def no_dns(host: str, port: int) -> Sequence[str]:
    raise OSError("no DNS in this test")


REFUSED = [
    ("http://127.0.0.1/", "webhook_target_loopback"),
    ("http://127.0.0.1:8000/health", "webhook_target_loopback"),
    ("http://[::1]/", "webhook_target_loopback"),
    ("http://2130706433/", "webhook_target_loopback"),
    ("http://0x7f000001/", "webhook_target_loopback"),
    ("http://0x7F000001:22/", "webhook_target_loopback"),
    ("http://127.1/", "webhook_target_loopback"),
    ("http://0177.0.0.1/", "webhook_target_loopback"),
    ("http://[::ffff:127.0.0.1]/", "webhook_target_loopback"),
    ("http://[::ffff:7f00:1]/", "webhook_target_loopback"),
    ("http://[::127.0.0.1]/", "webhook_target_loopback"),
    ("http://[64:ff9b::7f00:1]/", "webhook_target_loopback"),
    ("http://[2002:7f00:1::]/", "webhook_target_loopback"),
    ("http://10.0.0.1/", "webhook_target_private"),
    ("http://172.16.5.4/", "webhook_target_private"),
    ("http://192.168.1.1/", "webhook_target_private"),
    ("http://[::ffff:10.1.2.3]/", "webhook_target_private"),
    ("http://[fc00::1]/", "webhook_target_private"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_target_link_local"),
    ("http://[fe80::1]/", "webhook_target_link_local"),
    ("http://224.0.0.1/", "webhook_target_multicast"),
    ("http://[ff02::1]/", "webhook_target_multicast"),
    ("http://0.0.0.0:8000/", "webhook_target_unspecified"),
    ("http://0/", "webhook_target_unspecified"),
    ("http://[::]/", "webhook_target_unspecified"),
    ("http://100.64.0.1/", "webhook_target_shared_address"),
    ("http://100.127.255.254/", "webhook_target_shared_address"),
    ("http://240.0.0.1/", "webhook_target_reserved"),
    ("http://255.255.255.255/", "webhook_target_reserved"),
    ("http://192.0.2.10/", "webhook_target_private"),
]


@pytest.mark.parametrize(("url", "code"), REFUSED)
def test_internal_addresses_are_refused_in_every_spelling(url: str, code: str) -> None:
    with pytest.raises(WebhookTargetRefusedError) as caught:
        TargetPolicy(resolver=no_dns).target(url)
    assert caught.value.code == code


def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    answers = {"localhost": ["127.0.0.1", "::1"], "mixed.example": ["93.184.216.34", "10.0.0.7"],
               "public.example": ["93.184.216.34"], "v6.example": ["fe80::1%eth0"]}
    policy = TargetPolicy(resolver=lambda host, port: answers[host])
    with pytest.raises(WebhookTargetRefusedError) as caught:
        policy.target("http://localhost:8000/")
    assert caught.value.code == "webhook_target_loopback"
    # One internal answer among public ones is enough to refuse.
    with pytest.raises(WebhookTargetRefusedError) as caught:
        policy.target("https://mixed.example/hook")
    assert caught.value.code == "webhook_target_private"
    with pytest.raises(WebhookTargetRefusedError) as caught:
        policy.target("https://v6.example/hook")
    assert caught.value.code == "webhook_target_link_local"
    target = policy.target("https://PUBLIC.example./hook?x=1")
    assert (target.address, target.port, target.path) == ("93.184.216.34", 443, "/hook?x=1")
    assert target.host_header == "public.example"


def test_an_unresolvable_name_passes_subscription_but_not_delivery() -> None:
    policy = TargetPolicy(resolver=no_dns)
    policy.check("https://not-yet.example/hook")  # no error: checked again at delivery
    with pytest.raises(WebhookTargetRefusedError) as caught:
        policy.target("https://not-yet.example/hook")
    assert caught.value.code == "webhook_target_unresolvable"
    assert error_category(caught.value) == "dns_failure"


def test_the_allow_list_names_exceptions_by_host_or_network() -> None:
    answers = {"hooks.internal": ["10.20.0.5"], "other.internal": ["10.30.0.5"]}
    policy = TargetPolicy.from_lists(["hooks.internal", "127.0.0.1"], ["192.168.7.0/24"],
                                     resolver=lambda host, port: answers[host])
    assert policy.target("http://hooks.internal/x").address == "10.20.0.5"
    assert policy.target("http://127.0.0.1:9000/x").address == "127.0.0.1"
    assert policy.target("http://192.168.7.9/x").address == "192.168.7.9"
    # Only what is named: the next network, another name, another loopback address.
    for url in ("http://192.168.8.1/", "http://other.internal/", "http://127.0.0.2/",
                "http://[::1]/"):
        with pytest.raises(WebhookTargetRefusedError):
            policy.target(url)


def test_refused_errors_say_why_without_echoing_addresses() -> None:
    with pytest.raises(WebhookTargetRefusedError) as caught:
        TargetPolicy(resolver=no_dns).target("http://10.9.8.7:6379/")
    assert "private" in caught.value.detail
    assert "10.9.8.7" not in caught.value.detail
    assert error_category(caught.value) == "address_refused"
