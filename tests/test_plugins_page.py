"""The plugins page (issue 13): owners see what is installed; superusers switch plugins and edit their settings.

Plugins act on every workspace's runs, so only superusers change them; a
disabled plugin's tools leave planning at once. The plugins come from the
installed example package and tests/support/plugins.py (see tests/test_plugins.py).
"""

from __future__ import annotations

import json

import pytest

from orchestration.engine.runs import submit
from orchestration.planning import PlanInvalid
from orchestration.planning.schema import plannable_tools
from plugins.models import Plugin
from plugins.sync import sync_plugins
from tests.factories.tenancy import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def synced():
    sync_plugins()
    Plugin.objects.filter(name="chatops").update(config={}, errors=[], enabled=True)


@pytest.fixture
def root(db):
    return UserFactory.create(username="root", is_staff=True, is_superuser=True)


def _card(page: str, name: str) -> str:
    start = page.index(f'id="plugin-{name}"')
    return page[start : page.index("</section>", start)]


def test_it_shows_owners_the_installed_plugins_read_only(client, alice):
    Plugin.objects.filter(name="chatops").update(
        config={"webhook_url": "https://chat.example/hook/s3cret"}, errors=[{"at": "2026-01-01T00:00:00", "error": "x"}]
    )
    client.force_login(alice)
    response = client.get("/plugins/")
    assert response.status_code == 200
    card = _card(response.content.decode(), "chatops")
    assert "1.0.0" in card
    assert "<code>run_finished</code> (order 100)" in card
    assert "csv.to_json" in card
    assert "Enabled" in card
    assert "s3cret" not in card
    assert "Errors seen" not in card
    assert "<form" not in card


def test_it_refuses_the_page_to_members_who_own_no_workspace(client, bob, victor):
    for someone in (bob, victor):
        client.force_login(someone)
        assert client.get("/plugins/").status_code == 403


def test_it_shows_superusers_the_settings_hooks_and_errors_seen(client, root):
    Plugin.objects.filter(name="chatops").update(
        config={"console_url": "https://orchestrate.example"},
        errors=[{"at": "2026-11-30T08:00:00+00:00", "error": "run_finished: the webhook answered HTTP 500"}],
    )
    client.force_login(root)
    page = client.get("/plugins/").content.decode()
    card = _card(page, "chatops")
    assert "https://orchestrate.example" in card
    assert "run_finished: the webhook answered HTTP 500" in card
    assert "&quot;webhook_url&quot;" in card  # the settings schema
    broken = _card(page, "broken")
    assert "Not loaded:" in broken
    assert "after_lunch" in broken


def test_it_disables_a_plugin_and_its_tools_leave_planning(client, root, alice, workspace_a):
    client.force_login(root)
    assert "csv.to_json" in {tool.name for tool in plannable_tools(workspace_a)}
    response = client.post("/plugins/chatops/toggle/", {"enabled": "0"})
    assert response.status_code == 302
    assert Plugin.objects.get(name="chatops").enabled is False
    assert "csv.to_json" not in {tool.name for tool in plannable_tools(workspace_a)}
    plan = {"steps": [{"number": 1, "tool": "csv.to_json", "input": {"file": "a.csv"}}]}
    with pytest.raises(PlanInvalid, match="whose plugin is disabled"):
        submit(user=alice, workspace=workspace_a, request_text="convert", plan=plan)
    part = client.post("/plugins/chatops/toggle/", {"enabled": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert '<div class="row-actions plugin-toggle">' in part
    assert "<html" not in part
    assert "Disable chatops" in part
    assert "csv.to_json" in {tool.name for tool in plannable_tools(workspace_a)}


def test_it_refuses_to_enable_a_plugin_that_failed_to_load(client, root):
    client.force_login(root)
    response = client.post("/plugins/broken/toggle/", {"enabled": "1"}, follow=True)
    assert "broken cannot be enabled" in response.content.decode()
    assert Plugin.objects.get(name="broken").enabled is False


def test_it_saves_settings_that_match_the_schema(client, root):
    client.force_login(root)
    settings = {"webhook_url": "https://chat.example/hook", "console_url": "https://orchestrate.example"}
    response = client.post("/plugins/chatops/settings/", {"settings": json.dumps(settings)})
    assert response.status_code == 302
    assert Plugin.objects.get(name="chatops").config == settings


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ('{"webhook_url": "https://x",', "Not valid JSON: Expecting property name enclosed in double quotes"),
        ('["https://x"]', "The settings must be a JSON object"),
        (
            '{"webhook_url": "ftp://x", "colour": "red"}',
            "(top level): Additional properties are not allowed (&#x27;colour&#x27; was unexpected);"
            " webhook_url: &#x27;ftp://x&#x27; does not match &#x27;^https?://&#x27;",
        ),
    ],
)
def test_it_refuses_settings_that_are_not_valid_saying_why(client, root, typed, problem):
    Plugin.objects.filter(name="chatops").update(config={"console_url": "https://kept.example"})
    client.force_login(root)
    response = client.post("/plugins/chatops/settings/", {"settings": typed})
    assert response.status_code == 400
    card = _card(response.content.decode(), "chatops")
    assert problem in card
    assert 'aria-invalid="true"' in card
    assert Plugin.objects.get(name="chatops").config == {"console_url": "https://kept.example"}


def test_it_lets_no_workspace_owner_change_a_plugin(client, alice):
    client.force_login(alice)
    assert client.post("/plugins/chatops/toggle/", {"enabled": "0"}).status_code == 403
    taken = {"settings": '{"webhook_url": "https://evil.example"}'}
    assert client.post("/plugins/chatops/settings/", taken).status_code == 403
    row = Plugin.objects.get(name="chatops")
    assert (row.enabled, row.config) == (True, {})
