from __future__ import annotations

from django.contrib import admin

from plugins.models import Plugin, PluginHook
from tenancy.admin_scoping import SuperuserOnlyAdmin


class PluginHookInline(admin.TabularInline):
    model = PluginHook
    extra = 0


@admin.register(Plugin)
class PluginAdmin(SuperuserOnlyAdmin):
    list_display = ["name", "version", "plugin_type", "enabled", "installed_at"]
    list_filter = ["plugin_type", "enabled"]
    search_fields = ["name"]
    inlines = [PluginHookInline]


@admin.register(PluginHook)
class PluginHookAdmin(SuperuserOnlyAdmin):
    list_display = ["hook_name", "plugin", "execution_order"]
    list_filter = ["hook_name"]
    search_fields = ["hook_name", "plugin__name"]
