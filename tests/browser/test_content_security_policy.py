"""Every page works under the Content-Security-Policy: no inline script, style or handler is
blocked (the `pages` fixture fails a test on any violation Chromium reports), and the live
websockets still connect."""

from __future__ import annotations

import pytest

from orchestration.engine.runs import submit
from tests.browser.helpers import off_the_loop, wait_for_socket
from tests.factories.tenancy import UserFactory

pytestmark = pytest.mark.browser


def test_it_serves_every_page_under_the_policy_without_a_violation(pages, alice, workspace_a):
    execution = off_the_loop(submit, user=alice, workspace=workspace_a, request_text="Summarise the sales CSV files")
    off_the_loop(UserFactory, username="root", is_staff=True, is_superuser=True)

    login_page = pages.new_context().new_page()
    response = login_page.goto("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "same-origin"

    page = pages.open_as("alice", "/orchestrate")
    wait_for_socket(page, "/ws/executions/")
    page.goto(f"/orchestrate/executions/{execution.pk}/")
    wait_for_socket(page, f"/ws/executions/{execution.pk}/")
    page.goto("/approvals/")
    wait_for_socket(page, "/ws/notifications/")
    page.goto("/workspaces/")
    page.goto(f"/workspaces/{workspace_a.pk}/")

    admin = pages.open_as("root", "/admin/")
    admin.goto("/admin/tenancy/workspacemember/")
    admin.goto("/admin/tenancy/workspacemember/add/")
    admin.wait_for_timeout(300)  # let late console errors arrive before the fixture checks
