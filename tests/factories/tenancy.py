"""Users, workspaces and memberships. Call `.create(...)` (typed) rather than the class."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User

from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import Role


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("password")


class WorkspaceFactory(factory.django.DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Workspace {n}")


class MemberFactory(factory.django.DjangoModelFactory[WorkspaceMember]):
    class Meta:
        model = WorkspaceMember

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER
