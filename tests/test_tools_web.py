"""web.get / web.post against real HTTP servers on loopback, with the SSRF guard in the way.

The servers record every request they receive, so "refused" is checked as
"nothing was sent", not only as "an error was raised". Names that must
resolve to a chosen address go through a replaced `socket.getaddrinfo` (the
stdlib resolver, not our code).
"""

from __future__ import annotations

import json
import re
import ssl
import time
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest

from tests.support import tool_call
from tools.base import RetryableToolError, ToolError, ToolInputError
from tools.http import fetch
from tools.integrations.web.tool import WebGet, WebPost
from tools.ssrf import BlockedAddress

# The servers (`server`, `other_server`, `server6`, `tls_server`) and `dns`.
pytest_plugins = ["tests.support.web_servers"]


def get(url: str, **extra: Any) -> dict[str, Any]:
    tool_input = {"url": url, **extra}
    jsonschema.validate(tool_input, WebGet.input_schema, cls=jsonschema.Draft202012Validator)
    return WebGet().run(tool_call(tool_input, "w")).output


def post(tool_input: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(tool_input, WebPost.input_schema, cls=jsonschema.Draft202012Validator)
    return WebPost().run(tool_call(tool_input, "w")).output


# Refused before anything is sent

REFUSED = [
    ("127.0.0.1", "'127.0.0.1': a loopback address"),
    ("[::1]", "'::1': a loopback address"),
    ("10.0.0.1", "a private address"),
    ("169.254.169.254", "the cloud metadata address"),
    ("[fd00:ec2::254]", "the cloud metadata address"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("198.18.0.1", "benchmarking"),
    ("[::ffff:127.0.0.1]", "a loopback address (127.0.0.1) in IPv4-mapped IPv6 form"),
    ("[::ffff:7f00:1]", "a loopback address (127.0.0.1) in IPv4-mapped IPv6 form"),
    ("[2002:7f00:1::]", "a loopback address (127.0.0.1) in 6to4 IPv6 form"),
    ("2130706433", "'2130706433': it resolves to 127.0.0.1, a loopback address"),
    ("0x7f000001", "'0x7f000001': it resolves to 127.0.0.1, a loopback address"),
    ("0177.0.0.1", "'0177.0.0.1': it resolves to 127.0.0.1, a loopback address"),
    ("127.1", "'127.1': it resolves to 127.0.0.1, a loopback address"),
    ("0.0.0.0", "'0.0.0.0': an unspecified"),
    ("[::]", "'::': an unspecified address"),
    ("[fd00::1]", "a unique-local (private) address"),
    ("localhost", "'localhost': it resolves to 127.0.0.1, a loopback address"),
    ("intranet.example", "'intranet.example': it resolves to 10.1.2.3, a private address"),
]


@pytest.mark.parametrize(("host", "message"), REFUSED, ids=[host for host, _ in REFUSED])
def test_it_refuses_non_public_addresses_without_sending_anything(host, message, server, server6, dns, web_settings):
    dns["intranet.example"] = ["10.1.2.3"]

    with pytest.raises(BlockedAddress, match="Refused to connect") as refused:
        get(server.url("/text", host=host))

    assert message in str(refused.value)
    assert "WEB_ALLOWED_HOSTS" in str(refused.value)
    assert server.requests == []
    assert server6 is None or server6.requests == []


def test_it_refuses_a_name_with_any_private_address_among_public_ones(server, dns, web_settings):
    dns["mixed.example"] = ["93.184.215.14", "127.0.0.1"]

    with pytest.raises(BlockedAddress, match=re.escape("it resolves to 127.0.0.1, a loopback address")):
        get(server.url("/text", host="mixed.example"))
    assert server.requests == []


def test_it_refuses_userinfo_without_echoing_the_password(server, allowed):
    with pytest.raises(ToolInputError, match=r"user name or password") as refused:
        get(server.url("/text", host="alice:s3cret@127.0.0.1"))

    assert "s3cret" not in str(refused.value)
    assert server.requests == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "file:///etc/passwd", "gopher://127.0.0.1:70/"])
def test_it_refuses_other_schemes(url, allowed):
    with pytest.raises(ToolInputError, match="Only http and https"):
        WebGet().run(tool_call({"url": url}, "w"))


# DNS rebinding: the address that was checked is the one connected to


def test_it_connects_to_the_checked_address_even_if_the_name_changes_its_answer(server, dns, web_settings):
    # Allow-listed by name, the first answer is a loopback address where nothing listens; every later answer
    # is the test server. Re-resolving at connect time would reach the server.
    web_settings.WEB_ALLOWED_HOSTS = ["rebind.test"]
    answers = iter([["127.0.0.2"]])
    dns["rebind.test"] = lambda: next(answers, ["127.0.0.1"])

    with pytest.raises(RetryableToolError, match=re.escape("Could not fetch http://rebind.test")):
        get(server.url("/text", host="rebind.test"))

    assert server.requests == []


def test_it_does_not_let_a_checked_public_answer_turn_into_loopback(server, dns, web_settings):
    # 203.0.113.7 (TEST-NET-3) stands in for a public address, allow-listed so that it passes the check.
    web_settings.WEB_ALLOWED_HOSTS = ["203.0.113.0/24"]
    web_settings.WEB_TIMEOUT = 0.5
    answers = iter([["203.0.113.7"]])
    dns["rebind.example"] = lambda: next(answers, ["127.0.0.1"])

    with pytest.raises(RetryableToolError):
        get(server.url("/text", host="rebind.example"))

    assert server.requests == []


# Redirects


def test_it_refuses_a_redirect_to_a_host_that_is_not_allowed(server, other_server, dns, web_settings):
    web_settings.WEB_ALLOWED_HOSTS = ["allowed.test"]
    dns["allowed.test"] = ["127.0.0.1"]
    target = other_server.url("/text")  # 127.0.0.1 itself is not allow-listed, only the name

    with pytest.raises(BlockedAddress, match=re.escape("Refused to connect to '127.0.0.1': a loopback address")):
        get(server.url(f"/redirect?to={quote(target)}", host="allowed.test"))

    assert len(server.requests) == 1
    assert other_server.requests == []


def test_it_refuses_a_redirect_to_the_cloud_metadata_address(server, allowed):
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        get(server.url(f"/redirect?to={quote('http://169.254.169.254/latest/meta-data/')}"))


def test_it_refuses_a_redirect_to_another_scheme(server, allowed):
    with pytest.raises(ToolInputError, match="Only http and https"):
        get(server.url(f"/redirect?to={quote('file:///etc/passwd')}"))


def test_it_follows_redirects_to_allowed_hosts_and_lists_them(server, other_server, allowed):
    second = other_server.url(f"/redirect?to={quote('/json')}&code=301")

    output = get(server.url(f"/redirect?to={quote(second)}&code=307"))

    assert output["url"] == other_server.url("/json")
    assert output["redirects"] == [second, other_server.url("/json")]
    assert output["json"] == {"answer": 42}
    assert [r.path for r in server.requests + other_server.requests] == [
        f"/redirect?to={quote(second)}&code=307",
        f"/redirect?to={quote('/json')}&code=301",
        "/json",
    ]


def test_it_stops_after_too_many_redirects(server, allowed):
    allowed.WEB_MAX_REDIRECTS = 3

    with pytest.raises(ToolError, match=r"Too many redirects \(more than 3\)"):
        get(server.url("/loop"))
    assert len(server.requests) == 4


def test_it_turns_a_303_after_a_post_into_a_get_and_keeps_secrets_on_their_origin(server, other_server, allowed):
    target = other_server.url("/echo")

    output = post(
        {
            "url": server.url(f"/redirect?to={quote(target)}&code=303"),
            "json": {"a": 1},
            "headers": {"Authorization": "Bearer t0ken", "Accept": "application/json"},
        }
    )

    assert output["json"]["method"] == "GET"
    assert output["json"]["body"] == ""
    assert "authorization" not in output["json"]["headers"]  # another origin (port): the credentials stay behind
    assert output["json"]["headers"]["accept"] == "application/json"
    assert server.requests[0].headers["authorization"] == "Bearer t0ken"


# Fetching from an allow-listed server


def test_it_gets_text(server, allowed):
    output = get(server.url("/text#section"))

    assert output == {
        "url": server.url("/text"),
        "status": 200,
        "content_type": "text/plain; charset=utf-8",
        "bytes": 12,
        "text": "hello, world",
        "redirects": [],
    }
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    result = WebGet().run(tool_call({"url": server.url("/text")}, "w"))
    assert result.summary == f"GET {server.url('/text')} -> 200"


def test_it_parses_json(server, allowed):
    output = get(server.url("/json"))

    assert output["json"] == {"answer": 42}
    assert "text" not in output


def test_it_returns_a_4xx_status_as_a_result(server, allowed):
    output = get(server.url("/status/404"))

    assert output["status"] == 404
    assert output["text"] == "status 404"


def test_it_treats_a_5xx_status_as_retryable(server, allowed):
    with pytest.raises(RetryableToolError, match="answered HTTP 500"):
        get(server.url("/status/500"))


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "streamed"])
def test_it_refuses_responses_larger_than_max_bytes(stream, server, allowed):
    url = server.url("/big?n=5000" + ("&stream=1" if stream else ""))

    with pytest.raises(ToolError, match="larger than 1000 bytes"):
        get(url, max_bytes=1000)
    assert get(url, max_bytes=5000)["bytes"] == 5000


def test_it_caps_max_bytes_at_the_setting(server, allowed):
    allowed.WEB_MAX_BYTES = 2000

    with pytest.raises(ToolError, match="larger than 2000 bytes"):
        get(server.url("/big?n=5000"), max_bytes=10_000)


def test_it_gives_up_on_a_slow_server_as_retryable(server, allowed):
    allowed.WEB_TIMEOUT = 0.3

    started = time.monotonic()
    with pytest.raises(RetryableToolError, match="did not answer in time"):
        get(server.url("/slow?s=2"))
    assert time.monotonic() - started < 1.5


def test_it_stops_at_the_step_deadline(server, allowed):
    call = tool_call({"url": server.url("/slow?s=2")}, "w")
    call.deadline = time.monotonic() + 0.3

    with pytest.raises(RetryableToolError, match="did not answer in time"):
        WebGet().run(call)


# Posting


def test_it_posts_json_with_the_idempotency_key(server, allowed):
    output = post({"url": server.url("/echo"), "json": {"rows": [1, 2]}, "headers": {"X-Trace": "abc"}})

    sent = server.requests[0]
    assert sent.method == "POST"
    assert json.loads(sent.body) == {"rows": [1, 2]}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["idempotency-key"] == "e:1"
    assert sent.headers["x-trace"] == "abc"
    assert output["status"] == 200


def test_it_posts_a_text_body_and_keeps_its_own_idempotency_key(server, allowed):
    post(
        {
            "url": server.url("/echo"),
            "body": "a,b\n1,2\n",
            "headers": {"Content-Type": "text/csv", "Idempotency-Key": "planner-made"},
        }
    )

    sent = server.requests[0]
    assert sent.body == b"a,b\n1,2\n"
    assert sent.headers["content-type"] == "text/csv"
    assert sent.headers["idempotency-key"] == "e:1"


def test_it_refuses_json_and_body_together(server, allowed):
    tool_input = {"url": server.url("/echo"), "json": {}, "body": "x"}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tool_input, WebPost.input_schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ToolInputError, match="not both"):
        WebPost().run(tool_call(tool_input, "w"))
    assert server.requests == []


def test_it_refuses_headers_that_http_sets_itself(server, allowed):
    with pytest.raises(ToolInputError, match="Host header"):
        post({"url": server.url("/echo"), "body": "x", "headers": {"Host": "internal.example"}})
    assert server.requests == []


def test_it_refuses_a_header_value_that_would_smuggle_in_another_header(server, allowed):
    with pytest.raises(ToolInputError, match="Not a valid HTTP header"):
        post({"url": server.url("/echo"), "body": "x", "headers": {"X-Note": "a\r\nX-Admin: yes"}})
    assert server.requests == []


def test_it_describes_a_post_for_the_approver():
    tool_input = {
        "url": "https://hooks.example.com/in?key=1",
        "json": {"text": "héllo"},
        "headers": {"Authorization": "Bearer secret", "X-Api-Key": "k", "Accept": "application/json"},
    }
    tool = WebPost()

    assert tool.estimate_impact(tool_input) == {
        "action": "HTTP POST",
        "target": "hooks.example.com",
        "bytes": len('{"text": "héllo"}'.encode()),
        "headers": {"Authorization": "[redacted]", "X-Api-Key": "[redacted]", "Accept": "application/json"},
    }
    assert tool.approval_reason(tool_input) == "web.post sends data to hooks.example.com: a person must approve it."
    assert tool.resources(tool_input, "w") == ["web:hooks.example.com"]
    assert WebGet().approval_reason({"url": "https://example.com/"}) is None


# HTTPS: pinned address, certificate checked for the name


def _fetch(url: str, **extra: Any) -> Any:
    return fetch("GET", url, timeout=5, max_bytes=10_000, max_redirects=0, **extra)


def test_it_checks_the_certificate_for_the_name_not_the_address(tls_server, dns, web_settings):
    local, cert, server_names = tls_server
    web_settings.WEB_ALLOWED_HOSTS = ["secure.test"]
    dns["secure.test"] = ["127.0.0.1"]
    url = local.url("/json", host="secure.test", scheme="https")

    with pytest.raises(ToolError, match=re.escape("TLS certificate of secure.test could not be verified")) as refused:
        _fetch(url)
    assert not isinstance(refused.value, RetryableToolError)

    response = _fetch(url, ssl_context=ssl.create_default_context(cadata=cert.decode()))
    assert (response.status, response.content) == (200, b'{"answer": 42}')
    assert server_names[-1] == "secure.test"
    assert local.requests[-1].headers["host"] == f"secure.test:{local.port}"


def test_it_refuses_https_to_a_loopback_address(tls_server, web_settings):
    local, _cert, _names = tls_server

    with pytest.raises(BlockedAddress):
        _fetch(local.url("/json", scheme="https"))
    assert local.requests == []
