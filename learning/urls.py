from __future__ import annotations

from django.urls import path

from learning import views

app_name = "learning"

urlpatterns = [
    path("", views.index, name="index"),
    path("patterns/<uuid:pattern_id>/toggle", views.toggle_pattern, name="toggle_pattern"),
    path("tests/", views.start_ab_test, name="start_test"),
    path("tests/<uuid:test_id>/promote", views.promote_test, name="promote_test"),
    path("runs/<uuid:execution_id>/rating", views.rate, name="rate"),
    path("prompts/", views.prompt_list, name="prompts"),
    path("prompts/<slug:agent_id>/", views.agent_prompts, name="agent_prompts"),
    path("prompts/<slug:agent_id>/compare", views.compare_prompts, name="compare_prompts"),
    path("prompts/versions/<int:version_id>/current", views.make_prompt_current, name="make_prompt_current"),
]
