"""The webhook pages and the Tokens page: who sees and does what, secrets shown once, test events, history."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from orchestration.models import Execution
from tenancy.models import ApiToken
from tenancy.roles import Role
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.live_server import live_server
from webhooks.models import Webhook, WebhookExecution
from webhooks.services import create_webhook
from webhooks.views.console import curl_example

FORM = {"name": "Orders", "trigger_type": "http", "request": "Summarise order {{ payload.id }}", "enabled": "on"}


@pytest.fixture
def viewer(workspace_a):
    user = UserFactory(username="victor")
    MemberFactory(workspace=workspace_a, user=user, role=Role.VIEWER)
    return user


def _hook(user, workspace, name="Orders"):
    return create_webhook(user, workspace, name=name, trigger_type="http", action_config={"request": "Hi"})


def test_it_creates_a_webhook_and_shows_its_secret_once(client, alice):
    client.force_login(alice)
    response = client.post("/webhooks/", FORM)

    assert response.status_code == 201
    webhook = Webhook.objects.get()
    page = response.content.decode()
    secret = page.split('id="secret-value">')[1].split("<")[0]
    assert secret.startswith("whsec_")
    assert f"/hooks/{webhook.public_id}/" in page
    assert secret not in client.get(f"/webhooks/{webhook.pk}/").content.decode()
    assert webhook.user == alice


def test_it_creates_a_schedule_and_refuses_a_bad_cron(client, bob):
    client.force_login(bob)
    bad = client.post("/webhooks/", {**FORM, "trigger_type": "cron", "cron": "99 * * * *", "timezone": "UTC"})
    assert bad.status_code == 400
    assert "Not a valid cron expression" in bad.content.decode()
    good = client.post(
        "/webhooks/", {**FORM, "trigger_type": "cron", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    )
    assert good.status_code == 201
    assert Webhook.objects.get().trigger_config == {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}


def test_it_lets_viewers_look_but_not_create_or_change(client, alice, viewer):
    webhook = _hook(alice, alice.memberships.get().workspace).webhook
    client.force_login(viewer)

    assert webhook.name in client.get("/webhooks/").content.decode()
    assert client.get(f"/webhooks/{webhook.pk}/").status_code == 200
    assert client.post("/webhooks/", FORM).status_code == 403
    for action in ("toggle", "rotate", "test", "delete"):
        assert client.post(f"/webhooks/{webhook.pk}/{action}/").status_code == 403, action
    assert client.post(f"/webhooks/{webhook.pk}/", {**FORM, "name": "Renamed"}).status_code == 403
    webhook.refresh_from_db()
    assert (webhook.name, webhook.enabled) == ("Orders", True)


def test_it_lets_operators_manage_their_own_and_owners_manage_all(client, alice, bob, workspace_a):
    alices = _hook(alice, workspace_a, "Alice's").webhook
    bobs = _hook(bob, workspace_a, "Bob's").webhook
    client.force_login(bob)
    assert client.post(f"/webhooks/{alices.pk}/toggle/").status_code == 403
    assert client.post(f"/webhooks/{bobs.pk}/toggle/").status_code == 302
    client.force_login(alice)
    assert client.post(f"/webhooks/{bobs.pk}/toggle/").status_code == 302
    bobs.refresh_from_db()
    alices.refresh_from_db()
    assert (alices.enabled, bobs.enabled) == (True, True)


def test_it_hides_another_workspaces_webhooks(client, alice, charlie, workspace_a):
    webhook = _hook(alice, workspace_a).webhook
    client.force_login(charlie)
    assert webhook.name not in client.get("/webhooks/").content.decode()
    assert client.get(f"/webhooks/{webhook.pk}/").status_code == 404
    assert client.post(f"/webhooks/{webhook.pk}/rotate/").status_code == 404


def test_it_sends_a_signed_test_event_that_starts_a_run(client, alice, workspace_a):
    webhook = _hook(alice, workspace_a).webhook
    client.force_login(alice)
    response = client.post(f"/webhooks/{webhook.pk}/test/", follow=True)

    assert "Test event sent" in response.content.decode()
    firing = WebhookExecution.objects.get()
    assert (firing.source, firing.success, firing.status_code) == ("test", True, 202)
    assert firing.execution == Execution.objects.get()
    run_page = client.get(f"/orchestrate/executions/{firing.execution_id}/").content.decode()
    assert f'href="/webhooks/{webhook.pk}/">webhook Orders</a> (test event)' in run_page


def test_it_filters_the_history(client, alice, workspace_a):
    webhook = _hook(alice, workspace_a).webhook
    client.post(f"/hooks/{webhook.public_id}/", data=b"{}", content_type="application/json")  # unsigned: refused
    client.force_login(alice)
    client.post(f"/webhooks/{webhook.pk}/test/")

    failed = client.get(f"/webhooks/{webhook.pk}/", {"outcome": "failed"}).content.decode()
    succeeded = client.get(f"/webhooks/{webhook.pk}/", {"outcome": "ok"}).content.decode()
    assert failed.count('class="firing ') == 1
    assert "Missing the webhook-id" in failed
    assert succeeded.count('class="firing ') == 1
    assert "Test event" in succeeded


def test_it_rotates_and_shows_the_new_secret_once(client, alice, workspace_a):
    created = _hook(alice, workspace_a)
    client.force_login(alice)
    page = client.post(f"/webhooks/{created.webhook.pk}/rotate/").content.decode()
    new = page.split('id="secret-value">')[1].split("<")[0]
    assert new.startswith("whsec_")
    assert new != created.secret


@pytest.mark.skipif(not all(map(shutil.which, ["bash", "curl", "openssl"])), reason="needs bash, curl and openssl")
@pytest.mark.usefixtures("engine")  # the run it starts finishes before the tables are flushed under it
def test_it_gives_a_curl_example_that_a_live_server_accepts(alice, workspace_a):
    created = create_webhook(
        alice,
        workspace_a,
        name="Curl",
        trigger_type="http",
        action_config={"request": "Hello {{ payload.customer.name }}"},
    )
    with live_server(ORCHESTRATE_EMBEDDED_SCHEDULER="false") as server:
        script = curl_example(f"{server.url}/hooks/{created.webhook.public_id}/", created.secret)
        answer = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert json.loads(answer.stdout)["status"] == 202, answer.stdout + answer.stderr
    assert Execution.objects.get().request == "Hello Ada"


def test_it_shows_a_new_token_once_and_revokes_it(client, alice):
    client.force_login(alice)
    created = client.post("/tokens/", {"name": "ci-export", "days": "30"})
    assert created.status_code == 201
    secret = created.content.decode().split('id="token-value">')[1].split("<")[0]
    assert secret.startswith("orc_")
    listing = client.get("/tokens/").content.decode()
    assert "ci-export" in listing
    assert secret not in listing
    token = ApiToken.objects.get()
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "ci-export" not in client.get("/tokens/").content.decode()


def test_it_never_revokes_someone_elses_token(client, alice, bob):
    from tenancy.tokens import create_token

    theirs = create_token(alice, "alice's").token
    client.force_login(bob)
    client.post(f"/tokens/{theirs.pk}/revoke/")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
