"""A/B tests: two variants of a prompt or a plan, runs split between them, the winner promoted.

A variant is given to a run by hashing the test's id with the run's id, so
a run always gets the same one (and a retried planning gives it again); the
assignment is an `ab_test_runs` row and the run's plan says it
(`plan["ab_test"]`). After each assigned run ends the results are computed
again: per variant the runs, successes, success rate, mean rating, mean
tokens and duration, and a pooled two-proportion z-test of the success
rates. When the p-value is below ORCHESTRATE_AB_ALPHA and both variants have
the minimum sample, the test is decided: with auto-promotion the winner is
promoted at once (a prompt version made current; a plan becomes its
signature's promoted pattern and the loser's pattern is switched off) and
the test completes with its verdict kept.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Avg
from django.utils import timezone
from django.utils.translation import gettext_lazy

from learning.models import LearnedPattern, PatternType, PromptVersion
from learning.services import prompts
from learning.services.signature import (
    Understanding,
    fill_template,
    plan_template,
    signature_of,
    template_key,
    template_summary,
)
from learning.services.stats import two_proportion_test
from orchestration.models import FINISHED_STATUSES, Execution, ExecutionStatus
from orchestration.planning.understanding import understand
from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action
from versioning.models import ABTest, ABTestKind, ABTestRun, ABTestStatus, PlanVersion

SIGNIFICANCE_METHOD = "pooled two-proportion z-test of the success rates, two-sided"


class ABTestInvalid(ValueError):
    """The test cannot be started as asked; the message says why."""


def variant_for(test_id: uuid.UUID | str, execution_id: uuid.UUID | str, traffic_split: float) -> str:
    """ "A" or "B" for this run, the same every time: B for the share `traffic_split` of runs."""
    digest = hashlib.sha256(f"{test_id}:{execution_id}".encode()).digest()
    return "B" if int.from_bytes(digest[:8], "big") / 2**64 < traffic_split else "A"


def _assign(test: ABTest, execution_id: uuid.UUID | str) -> str:
    variant = variant_for(test.pk, execution_id, test.traffic_split)
    try:
        with transaction.atomic():
            ABTestRun.objects.get_or_create(test=test, execution_id=execution_id, defaults={"variant": variant})
    except IntegrityError:  # planned twice at once; the first assignment stands
        pass
    return variant


def _running(workspace_id: uuid.UUID | str, kind: str, subject: str) -> ABTest | None:
    return (
        ABTest.objects.filter(workspace_id=workspace_id, kind=kind, subject=subject, status=ABTestStatus.RUNNING)
        .order_by("created_at")
        .first()
    )


def testing_prompt(agent: str, workspace_id: uuid.UUID | str) -> bool:
    return _running(workspace_id, ABTestKind.PROMPT, agent) is not None


def plan_variant(
    signature: str, found: Understanding, *, workspace_id: uuid.UUID | str, execution_id: uuid.UUID | str
) -> dict[str, Any] | None:
    """The plan a running test of this signature gives the run, or None."""
    test = _running(workspace_id, ABTestKind.PLAN, signature)
    if test is None:
        return None
    variant = variant_for(test.pk, execution_id, test.traffic_split)
    spec = test.variant_a if variant == "A" else test.variant_b
    steps = fill_template(spec.get("template") or [], found)
    if steps is None:
        return None
    _assign(test, execution_id)
    return {
        "planner": "ab_test",
        "steps": steps,
        "ab_test": {"id": str(test.pk), "name": test.name, "variant": variant, "label": spec.get("label", "")},
    }


def prompt_for_run(
    agent: str, *, workspace_id: uuid.UUID | str, execution_id: uuid.UUID | str
) -> tuple[PromptVersion, dict[str, Any]] | None:
    """The prompt version a running test of the agent's prompts gives the run (with the assignment), or None."""
    test = _running(workspace_id, ABTestKind.PROMPT, agent)
    if test is None:
        return None
    variant = variant_for(test.pk, execution_id, test.traffic_split)
    spec = test.variant_a if variant == "A" else test.variant_b
    prompt = PromptVersion.objects.filter(pk=spec.get("prompt_version")).first()
    if prompt is None:
        return None
    _assign(test, execution_id)
    return prompt, {"id": str(test.pk), "name": test.name, "variant": variant, "label": spec.get("label", "")}


def candidates(user: Any, workspace: Workspace) -> list[tuple[str, str]]:
    """What may compete in a new test: the workspace's plan patterns and plan versions, and (for staff) prompts."""
    choices: list[tuple[str, str]] = []
    for pattern in LearnedPattern.objects.filter(workspace=workspace, pattern_type=PatternType.REQUEST_PLAN)[:50]:
        choices.append((f"pattern:{pattern.pk}", f"Pattern: {pattern.description} ({pattern.confidence:.0%})"))
    versions = PlanVersion.objects.filter(plan__workspace=workspace).select_related("plan").order_by("-created_at")
    for version in versions[:50]:
        label = f"Plan v{version.version} of run {str(version.plan_id)[:8]} “{version.plan.request[:60]}”"
        choices.append((f"version:{version.pk}", label))
    if getattr(user, "is_staff", False):
        for prompt in PromptVersion.objects.order_by("agent_id", "-version")[:100]:
            choices.append((f"prompt:{prompt.pk}", f"Prompt: {prompt.agent_id} v{prompt.version}"))
    return choices


def _variant(workspace: Workspace, user: Any, choice: str) -> tuple[str, str, dict[str, Any]]:
    """(kind, subject, variant) for a choice like "pattern:<id>", "version:<id>" or "prompt:<id>"."""
    kind, _, ident = choice.partition(":")
    try:
        if kind == "pattern":
            pattern = LearnedPattern.objects.get(
                pk=uuid.UUID(ident), workspace=workspace, pattern_type=PatternType.REQUEST_PLAN
            )
            label = f"Pattern {pattern.description}"
            return (
                ABTestKind.PLAN,
                pattern.signature,
                {"source": choice, "label": label, "template": pattern.plan_template},
            )
        if kind == "version":
            version = PlanVersion.objects.select_related("plan").get(pk=int(ident), plan__workspace=workspace)
            found = understand(version.plan.request, answers=version.plan.answers or None)
            template = plan_template(version.plan_data, found)
            label = f"Plan v{version.version} of run {str(version.plan_id)[:8]}"
            return ABTestKind.PLAN, signature_of(found), {"source": choice, "label": label, "template": template}
        if kind == "prompt":
            if not getattr(user, "is_staff", False):
                raise PermissionDenied(gettext_lazy("Prompts are shared by every workspace: only staff test them."))
            prompt = PromptVersion.objects.get(pk=int(ident))
            label = f"{prompt.agent_id} v{prompt.version}"
            return ABTestKind.PROMPT, prompt.agent_id, {"source": choice, "label": label, "prompt_version": prompt.pk}
    except (ValueError, LearnedPattern.DoesNotExist, PlanVersion.DoesNotExist, PromptVersion.DoesNotExist):
        pass
    raise ABTestInvalid(f"There is no {kind or 'variant'} {ident!r} to test here.")


def start_test(
    user: Any,
    workspace: Workspace,
    *,
    name: str,
    variant_a: str,
    variant_b: str,
    traffic_split: float = 0.5,
    min_sample: int = 20,
    auto_promote: bool = True,
) -> ABTest:
    """Start a test between two variants of one subject (one agent's prompts, or plans for one signature)."""
    if not may(user, Action.MANAGE_SETTINGS, workspace):
        raise PermissionDenied(gettext_lazy("Only the workspace's owners and admins may start A/B tests."))
    if variant_a == variant_b:
        raise ABTestInvalid("Pick two different variants.")
    if not 0 < traffic_split < 1:
        raise ABTestInvalid("The traffic split is the share of runs given B, between 0 and 1.")
    if min_sample < 1:
        raise ABTestInvalid("The minimum sample is at least one run per variant.")
    kind_a, subject_a, a = _variant(workspace, user, variant_a)
    kind_b, subject_b, b = _variant(workspace, user, variant_b)
    if (kind_a, subject_a) != (kind_b, subject_b):
        raise ABTestInvalid(
            "Both variants must be of the same thing: two prompts of one agent, or two plans for the same kind "
            f"of request ({subject_a} is not {subject_b})."
        )
    if kind_a == ABTestKind.PLAN and template_key(subject_a, a["template"]) == template_key(subject_b, b["template"]):
        raise ABTestInvalid("The two plans are the same.")
    if _running(workspace.pk, kind_a, subject_a) is not None:
        raise ABTestInvalid("A test of this is already running; let it finish first.")
    name = name.strip()[:100] or f"{a['label']} vs {b['label']}"[:100]
    try:
        with transaction.atomic():
            return ABTest.objects.create(
                workspace=workspace,
                name=name,
                kind=kind_a,
                subject=subject_a,
                variant_a=a,
                variant_b=b,
                traffic_split=traffic_split,
                min_sample=min_sample,
                auto_promote=auto_promote,
                status=ABTestStatus.RUNNING,
                created_by=user,
                results=_empty_results(),
            )
    except IntegrityError:
        raise ABTestInvalid(f"A test named {name!r} exists already.") from None


def _empty_results() -> dict[str, Any]:
    blank = {"runs": 0, "successes": 0, "success_rate": 0.0, "mean_rating": None, "tokens": 0, "duration_ms": 0}
    return {"A": dict(blank), "B": dict(blank), "p_value": 1.0, "method": SIGNIFICANCE_METHOD, "decided": False}


def record_run(execution_id: uuid.UUID | str) -> None:
    """After an assigned run ends: the results of its tests again, and a verdict when they are decisive."""
    for test_id in ABTestRun.objects.filter(execution_id=execution_id).values_list("test_id", flat=True):
        refresh_results(test_id)


def refresh_results(test_id: uuid.UUID | str) -> dict[str, Any]:
    test = ABTest.objects.get(pk=test_id)
    results = _empty_results()
    finished = ABTestRun.objects.filter(test=test, execution__status__in=FINISHED_STATUSES)
    for variant in ("A", "B"):
        runs = finished.filter(variant=variant)
        count = runs.count()
        successes = runs.filter(execution__status=ExecutionStatus.SUCCEEDED).count()
        means = runs.aggregate(
            rating=Avg("execution__feedback__user_rating"),
            tokens=Avg("execution__feedback__tokens_used"),
            duration=Avg("execution__feedback__duration_ms"),
        )
        results[variant] = {
            "runs": count,
            "successes": successes,
            "success_rate": round(successes / count, 4) if count else 0.0,
            "mean_rating": round(float(means["rating"]), 2) if means["rating"] is not None else None,
            "tokens": round(float(means["tokens"] or 0)),
            "duration_ms": round(float(means["duration"] or 0)),
        }
    a, b = results["A"], results["B"]
    comparison = two_proportion_test(a["successes"], a["runs"], b["successes"], b["runs"])
    enough = min(a["runs"], b["runs"]) >= test.min_sample
    results.update(
        p_value=round(comparison.p_value, 6),
        z=round(comparison.z, 3),
        alpha=settings.ORCHESTRATE_AB_ALPHA,
        decided=enough and comparison.decisive(settings.ORCHESTRATE_AB_ALPHA),
    )
    if results["decided"]:
        results["leader"] = "B" if b["success_rate"] > a["success_rate"] else "A"
    elif "verdict" in test.results:
        results["verdict"] = test.results["verdict"]
    if test.status != ABTestStatus.RUNNING:
        return test.results  # a completed test keeps the numbers its verdict was given on
    ABTest.objects.filter(pk=test.pk, status=ABTestStatus.RUNNING).update(results=results)
    if results["decided"] and test.auto_promote:
        promote(test.pk, user=None)
    return results


def promote(test_id: uuid.UUID | str, *, user: Any) -> bool:
    """Promote a decided test's winner and close the test with its verdict; False when it was not decided."""
    test = ABTest.objects.get(pk=test_id)
    if user is not None and (test.workspace_id is None or not may(user, Action.MANAGE_SETTINGS, test.workspace_id)):
        raise PermissionDenied(gettext_lazy("Only the workspace's owners and admins may promote a test's winner."))
    results = dict(test.results)
    if not results.get("decided") or test.status != ABTestStatus.RUNNING:
        return False
    winner = results["leader"]
    loser = "A" if winner == "B" else "B"
    won = test.variant_a if winner == "A" else test.variant_b
    lost = test.variant_a if loser == "A" else test.variant_b
    rates = f"{results[winner]['success_rate']:.0%} vs {results[loser]['success_rate']:.0%}"
    results["verdict"] = (
        f"{winner} ({won.get('label', '')}) wins: success {rates} over {results[winner]['runs']} and "
        f"{results[loser]['runs']} runs, p = {results['p_value']:.4f} < {results['alpha']}; "
        f"promoted {'automatically' if user is None else f'by {user}'}."
    )
    with transaction.atomic():
        if not ABTest.objects.filter(pk=test.pk, status=ABTestStatus.RUNNING).update(
            status=ABTestStatus.COMPLETED, winner=winner, results=results, completed_at=timezone.now()
        ):
            return False
        if test.kind == ABTestKind.PROMPT:
            prompts.make_current(PromptVersion.objects.get(pk=won["prompt_version"]))
        else:
            _promote_plan(test, won, lost)
    return True


def _promote_plan(test: ABTest, won: dict[str, Any], lost: dict[str, Any]) -> None:
    """The winning plan becomes its signature's promoted pattern; the losing plan's pattern is switched off."""
    if test.workspace_id is None:
        return
    same_signature = LearnedPattern.objects.filter(
        workspace_id=test.workspace_id, pattern_type=PatternType.REQUEST_PLAN, signature=test.subject
    )
    same_signature.update(promoted=False)
    winner_key = template_key(test.subject, won["template"])
    pattern, _ = LearnedPattern.objects.get_or_create(
        workspace_id=test.workspace_id,
        pattern_type=PatternType.REQUEST_PLAN,
        key=winner_key,
        defaults={
            "description": f"{test.subject} -> {template_summary(won['template'])}"[:1000],
            "signature": test.subject,
            "plan_template": won["template"],
        },
    )
    LearnedPattern.objects.filter(pk=pattern.pk).update(promoted=True, enabled=True)
    same_signature.filter(key=template_key(test.subject, lost["template"])).update(enabled=False)


def visible_tests(user: Any) -> Any:
    return ABTest.objects.for_user(user).select_related("workspace")


def assigned_variant(execution: Execution) -> dict[str, Any] | None:
    """The run's A/B assignment as its plan records it."""
    plan = execution.plan if isinstance(execution.plan, dict) else {}
    value = plan.get("ab_test")
    return value if isinstance(value, dict) else None
