"""Forms of the workspace pages: they validate input; the rules live in tenancy.services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import ANY_RESOURCE, Action, ResourceType, Role

EVERYONE = ""


class SwitchWorkspaceForm(forms.Form):
    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.none(),
        error_messages={"invalid_choice": _("You are not a member of that workspace.")},
    )
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["workspace"]).queryset = Workspace.objects.for_user(user)


class CreateWorkspaceForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={
            "required": _("Give the workspace a name."),
            "max_length": _("Keep the name to %(limit_value)d characters."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "create-workspace-%s")
        super().__init__(*args, **kwargs)


class AddMemberForm(forms.Form):
    user = forms.CharField(
        label=_("Username or e-mail"),
        max_length=254,
        error_messages={"required": _("Give a username or an e-mail address.")},
    )
    role = forms.ChoiceField(
        label=_("Role"), initial=Role.VIEWER, error_messages={"invalid_choice": _("Choose a role.")}
    )

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "add-member-%s")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = roles


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, error_messages={"invalid_choice": _("Choose a role.")})


class GrantForm(forms.Form):
    user = forms.ChoiceField(label=_("Who"), required=False)
    resource_type = forms.ChoiceField(label=_("Resource type"), choices=ResourceType.choices)
    resource_id = forms.CharField(
        label=_("Resource id"),
        max_length=100,
        required=False,
        initial=ANY_RESOURCE,
        help_text=_("A tool name, a run's id, … or * for every resource of the type."),
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        choices=Action.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one permission.")},
    )

    def __init__(self, *args: Any, members: list[WorkspaceMember], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "grant-%s")
        super().__init__(*args, **kwargs)
        self._members = {str(member.user_id): member.user for member in members}
        cast(forms.ChoiceField, self.fields["user"]).choices = [(EVERYONE, _("Everyone in the workspace"))] + [
            (user_id, user.get_username()) for user_id, user in self._members.items()
        ]
        self.fields["user"].error_messages["invalid_choice"] = _("Choose a member of this workspace, or everyone.")

    def clean_user(self) -> Any:
        value = self.cleaned_data["user"]
        return None if value == EVERYONE else self._members[value]

    def clean_resource_id(self) -> str:
        return self.cleaned_data["resource_id"].strip() or ANY_RESOURCE
