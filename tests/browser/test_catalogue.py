"""The tool catalogue and the plugins page in a browser: search as you type, switch a tool off, a plugin off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from plugins.models import Plugin
from plugins.sync import sync_plugins
from tests.browser.helpers import assert_not_reloaded, mark_page, screenshot_for_docs
from tests.factories.tenancy import UserFactory
from tests.support.polling import eventually
from tools.discovery import discover_tools
from tools.services.workspace_tools import is_tool_enabled

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def catalogue(transactional_db):
    # The browser tests' database is flushed between tests: fill the catalogue and the plugin rows again.
    discover_tools()
    sync_plugins()


def test_it_filters_the_catalogue_as_you_type_and_switches_a_tool_off(pages, alice, workspace_a):
    page = pages.open_as("alice", "/tools/")
    rows = page.locator("#tools tbody tr")
    expect(rows.filter(has_text="csv.to_json")).to_contain_text("Plugin chatops")
    total = rows.count()
    assert total > 10
    screenshot_for_docs(page, "tool-catalogue")
    mark_page(page)

    page.locator("#tool-query").press_sequentially("critical smtp", delay=20)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("email.send")
    expect(page).to_have_url(re.compile(r"/tools/\?q=critical(\+|%20)smtp$"))
    assert_not_reloaded(page)

    page.locator("#tool-query").fill("web")
    expect(rows.filter(has_text="web.post")).to_have_count(1)
    row = rows.filter(has_text="web.get")
    row.get_by_role("button", name="Disable web.get").click()
    expect(rows.filter(has_text="web.get")).to_contain_text("Disabled")
    expect(rows.filter(has_text="web.get").get_by_role("button", name="Enable web.get")).to_be_visible()
    assert_not_reloaded(page)
    eventually(lambda: not is_tool_enabled(workspace_a, "web.get"), what="web.get switched off in A")

    page.reload()
    expect(rows.filter(has_text="web.get")).to_contain_text("Disabled")
    expect(page.locator("#tool-query")).to_have_value("web")


def test_it_shows_a_viewer_the_catalogue_without_switches(pages, victor):
    page = pages.open_as("victor", "/tools/")
    expect(page.locator("#tools tbody tr").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Disable "))).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Owners and admins of A switch tools on and off.")


def test_it_lets_a_superuser_fix_a_plugins_settings_and_switch_it_off(pages):
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    page = pages.open_as("root", "/plugins/")
    card = page.locator("#plugin-chatops")
    expect(card).to_contain_text("run_finished")
    card.get_by_text("Settings", exact=True).click()
    card.locator("textarea[name=settings]").fill('{"webhook_url": "ftp://chat.example"}')
    card.get_by_role("button", name="Save settings").click()
    card = page.locator("#plugin-chatops")
    expect(card.locator(".field-error")).to_contain_text("webhook_url: 'ftp://chat.example' does not match")
    expect(card.locator("textarea[name=settings]")).to_have_value('{"webhook_url": "ftp://chat.example"}')
    card.locator("textarea[name=settings]").fill('{"webhook_url": "https://chat.example/hook"}')
    card.get_by_role("button", name="Save settings").click()
    expect(page.locator(".messages")).to_contain_text("Saved the settings of chatops")
    screenshot_for_docs(page, "plugins")

    mark_page(page)
    page.locator("#plugin-chatops").get_by_role("button", name="Disable chatops").click()
    expect(page.locator("#plugin-chatops .plugin-state")).to_have_text("Disabled")
    assert_not_reloaded(page)
    row = eventually(lambda: Plugin.objects.filter(name="chatops", enabled=False).first(), what="chatops disabled")
    assert row.config == {"webhook_url": "https://chat.example/hook"}
