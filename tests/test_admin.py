"""The Django admin: every page loads, system rows are read-only, staff stay in their workspaces."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Log
from tests.factories.orchestration import ExecutionFactory
from tests.factories.tenancy import UserFactory

OUR_APPS = {
    "tenancy",
    "orchestration",
    "persistence",
    "caching",
    "learning",
    "monitoring",
    "safety",
    "webhooks",
    "plugins",
    "versioning",
    "tools",
}


def _our_models():
    return [model for model in apps.get_models() if model._meta.app_label in OUR_APPS]


SPEC_TABLES = 25


def test_it_registers_all_25_models():
    models = _our_models()
    # The specification's 25 tables, plus calendar_events (the planner's built-in calendar),
    # email_deliveries, login_throttles, workspace_invitations, api_tokens and workspace_tool_settings,
    # learning's run_ratings, pattern_outcomes and ab_test_runs, the dashboard's hourly rollups,
    # and user_preferences (the console's language per person).
    extra = {
        *("calendar_events", "email_deliveries", "login_throttles", "workspace_invitations", "api_tokens"),
        "workspace_tool_settings",
        *("run_ratings", "pattern_outcomes", "ab_test_runs"),
        *("metric_rollups", "metric_rollup_hours"),
        "user_preferences",
    }
    spec = [model for model in models if model._meta.db_table not in extra]
    assert len(spec) == SPEC_TABLES
    assert all(admin.site.is_registered(model) for model in models)


@pytest.fixture
def superuser(db):
    return UserFactory.create(username="root", is_staff=True, is_superuser=True)


@pytest.mark.django_db
@pytest.mark.parametrize("model", _our_models(), ids=lambda model: model._meta.db_table)
def test_it_loads_every_changelist_and_add_page(client, superuser, model):
    ExecutionFactory.create()
    client.force_login(superuser)
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    read_only = {
        "execution_checkpoints",
        "traces",
        "metrics",
        "logs",
        "calendar_events",
        "email_deliveries",
        "login_throttles",
        "api_tokens",
        "pattern_outcomes",
        "ab_test_runs",
        "metric_rollups",
        "metric_rollup_hours",
    }
    assert add.status_code == (403 if opts.db_table in read_only else 200)


@pytest.mark.django_db
def test_it_shows_system_rows_read_only(client, superuser):
    log = Log.objects.create(source="engine", level="INFO", message="step 1 done", timestamp=timezone.now())
    client.force_login(superuser)
    page = client.get(reverse("admin:monitoring_log_change", args=[log.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert b"step 1 done" in page.content


@pytest.mark.django_db
def test_it_keeps_staff_in_their_workspaces(client, alice, charlie, workspace_a, workspace_b):
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Alpha quarterly numbers")
    ExecutionFactory.create(workspace=workspace_b, user=charlie, request="Bravo secret plans")
    charlie.is_staff = True
    charlie.save()
    charlie.user_permissions.add(*Permission.objects.filter(codename__in=["view_execution", "add_execution"]))
    client.force_login(charlie)
    listing = client.get(reverse("admin:orchestration_execution_changelist")).content.decode()
    assert "Bravo secret plans" in listing
    assert "Alpha quarterly numbers" not in listing
    alpha = ExecutionFactory._meta.model.objects.get(request="Alpha quarterly numbers")
    detail = client.get(reverse("admin:orchestration_execution_change", args=[alpha.pk]))
    assert detail.status_code == 302  # Django's admin redirects a row it cannot find to the index
    add_form = client.get(reverse("admin:orchestration_execution_add")).content.decode()
    assert f'value="{workspace_b.pk}"' in add_form
    assert f'value="{workspace_a.pk}"' not in add_form


@pytest.mark.django_db
def test_it_hides_installation_wide_tables_from_staff(client, charlie):
    charlie.is_staff = True
    charlie.save()
    charlie.user_permissions.add(*Permission.objects.filter(codename="view_cacheentry"))
    client.force_login(charlie)
    assert client.get(reverse("admin:caching_cacheentry_changelist")).status_code == 403
