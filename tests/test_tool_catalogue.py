"""The tool catalogue (issue 13): per-workspace tool settings, the page, disabled tools never planned nor run."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from tools.models import WorkspaceToolSetting
from tools.services.workspace_tools import (
    UnknownTool,
    approval_waived,
    change_tool_setting,
    disabled_tools,
    is_tool_enabled,
)

pytestmark = pytest.mark.django_db


def test_it_switches_a_tool_off_in_one_workspace_only(alice, charlie, workspace_a, workspace_b):
    assert is_tool_enabled(workspace_a, "web.get")
    change_tool_setting(alice, workspace_a, "web.get", enabled=False)
    assert not is_tool_enabled(workspace_a, "web.get")
    assert is_tool_enabled(workspace_b, "web.get")
    assert disabled_tools(workspace_a) == {"web.get"}
    assert disabled_tools(workspace_b.pk) == frozenset()
    change_tool_setting(alice, workspace_a, "web.get", enabled=True)
    assert disabled_tools(str(workspace_a.pk)) == frozenset()


def test_it_keeps_the_waiver_apart_from_the_switch(alice, workspace_a):
    assert not approval_waived(workspace_a, "email.send")
    change_tool_setting(alice, workspace_a, "email.send", approval_waived=True)
    assert approval_waived(workspace_a, "email.send")
    assert is_tool_enabled(workspace_a, "email.send")
    change_tool_setting(alice, workspace_a, "email.send", enabled=False)
    row = WorkspaceToolSetting.objects.get(workspace=workspace_a, tool_name="email.send")
    assert (row.enabled, row.approval_waived, row.updated_by) == (False, True, alice)


def test_it_lets_only_owners_and_admins_change_a_tool(alice, bob, victor, charlie, workspace_a):
    for someone in (bob, victor, charlie):
        with pytest.raises(PermissionDenied):
            change_tool_setting(someone, workspace_a, "web.get", enabled=False)
    assert is_tool_enabled(workspace_a, "web.get")


def test_it_refuses_a_tool_the_catalogue_does_not_have(alice, workspace_a):
    with pytest.raises(UnknownTool, match=r"no tool named 'no\.such'"):
        change_tool_setting(alice, workspace_a, "no.such", enabled=False)
    assert not WorkspaceToolSetting.objects.exists()
