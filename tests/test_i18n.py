"""The console in English and Hebrew (docs/i18n.md).

The CI check: every user-facing string in the templates is marked for
translation, and every marked string (templates and Python, found by
Django's own makemessages) has a Hebrew translation. Then what a person sees:
the switcher, remembered per person; Hebrew pages right to left; the
planner's questions, approval reasons and reports in the right language.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

from config.catalogues import read_po
from orchestration.models import Execution
from orchestration.planning.questions import NeedsAnswer
from orchestration.planning.rules import plan_with_rules
from safety.reasons import localised_reason, localised_waiting
from tenancy.models import UserPreference
from tests.factories.orchestration import ExecutionFactory
from tests.support.i18n import unmarked_strings
from tools.bidi import LRI, PDI, RLM, html_body, mark_plain
from tools.integrations.report.tool import render_report

TEMPLATES = Path(settings.BASE_DIR) / "templates"
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "he" / "LC_MESSAGES" / "django.po"
# What makemessages reads: our apps and templates (not the API, whose answers are for programs).
IGNORED = ["var/*", "static/*", "docs/*", "bench/*", "tests/*", "plugins/examples/*", "deploy/*", "api/*", ".*"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")
NOW = datetime(2026, 11, 23, 8, 0)


def test_it_marks_every_user_facing_string_in_the_templates():
    unmarked = {
        str(path.relative_to(TEMPLATES)): found
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (found := unmarked_strings(path))
    }
    assert not unmarked, f"text not marked for translation: {unmarked}"


def test_it_finds_a_string_left_unmarked(tmp_path):
    template = tmp_path / "page.html"
    template.write_text(
        '{% load i18n %}<h1>{% translate "Marked" %}</h1><p title="Plain title">Plain text {{ name }}</p>'
        "<code>manage.py serve</code>{% blocktranslate %}Also {{ marked }}{% endblocktranslate %}"
    )
    assert unmarked_strings(template) == ['title="Plain title"', "Plain text"]


@pytest.mark.skipif(not shutil.which("xgettext"), reason="makemessages needs GNU gettext (make system-packages)")
def test_it_has_a_hebrew_translation_for_every_marked_string(tmp_path, monkeypatch):
    """makemessages run into a copy of the catalogue: any msgid it finds without a translation fails."""
    target = tmp_path / "locale" / "he" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(CATALOGUE, target / "django.po")
    # makemessages writes into the `locale` folder beside the files it reads: read the project
    # through links from a folder whose `locale` is the copy, so the committed catalogue is never touched.
    for entry in Path(settings.BASE_DIR).iterdir():
        if entry.name != "locale" and not entry.name.startswith("."):
            (tmp_path / entry.name).symlink_to(entry)
    monkeypatch.chdir(tmp_path)
    before = CATALOGUE.read_bytes()
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command(
            "makemessages", locale=["he"], ignore_patterns=IGNORED, no_obsolete=True, symlinks=True, verbosity=0
        )
    assert CATALOGUE.read_bytes() == before
    entries = read_po(target / "django.po")[1:]
    untranslated = [entry.msgid for entry in entries if not entry.translated]
    assert not untranslated, f"{len(untranslated)} strings have no Hebrew translation: {untranslated}"
    committed = {entry.msgid for entry in read_po(CATALOGUE)[1:]}
    assert {entry.msgid for entry in entries} <= committed, "run makemessages: the catalogue misses strings"


def test_it_keeps_every_placeholder_in_the_hebrew_translations():
    for entry in read_po(CATALOGUE)[1:]:
        for index, translated in entry.msgstr.items():
            source = entry.msgid_plural if index else entry.msgid
            assert set(PLACEHOLDER.findall(translated)) <= set(PLACEHOLDER.findall(source)), entry.msgid
            if not entry.msgid_plural:
                assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(source)), entry.msgid


@pytest.mark.django_db
def test_it_speaks_english_left_to_right_by_default(client: Client, alice):
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert '<html lang="en" dir="ltr">' in page
    assert ">Executions<" in page


@pytest.mark.django_db
def test_it_switches_to_hebrew_right_to_left_and_remembers_the_choice(client: Client, alice):
    client.force_login(alice)
    response = client.post("/language/", {"language": "he", "next": "/orchestrate"})
    assert response.status_code == 302
    assert response["Location"] == "/orchestrate"
    page = client.get("/orchestrate").content.decode()
    assert '<html lang="he" dir="rtl">' in page
    assert ">הרצות<" in page  # "Executions"
    assert UserPreference.objects.get(user=alice).language == "he"
    # Another browser (no cookie, a browser asking for English): signing in brings Hebrew back.
    elsewhere = Client(headers={"accept-language": "en"})
    elsewhere.post("/accounts/login/", {"username": alice.username, "password": "password"})
    assert '<html lang="he" dir="rtl">' in elsewhere.get("/orchestrate").content.decode()


@pytest.mark.django_db
def test_it_refuses_a_language_it_does_not_speak(client: Client, alice):
    client.force_login(alice)
    assert client.post("/language/", {"language": "fr", "next": "/orchestrate"}).status_code == 400
    assert not UserPreference.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_it_shows_the_login_page_in_the_browsers_language(client: Client):
    page = client.get("/accounts/login/", headers={"accept-language": "he"}).content.decode()
    assert 'dir="rtl"' in page
    assert "כניסה" in page  # "Log in"


@pytest.mark.django_db
def test_it_shows_dates_in_the_languages_format(client: Client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, user=alice, request="Dated run")
    Execution.objects.filter(pk=execution.pk).update(created_at=datetime.fromisoformat("2026-12-15T14:05:00+00:00"))
    client.force_login(alice)
    assert "2026-12-15 14:05" in client.get("/orchestrate").content.decode()
    client.post("/language/", {"language": "he", "next": "/orchestrate"})
    assert "15.12.2026 14:05" in client.get("/orchestrate").content.decode()


def test_it_asks_the_planners_questions_in_the_language_of_the_request():
    with translation.override("en"), pytest.raises(NeedsAnswer) as hebrew:
        plan_with_rules("קבע פגישת סקירה עם alice@example.com", now=NOW)
    assert hebrew.value.question == "מתי זה יהיה?"
    with translation.override("he"), pytest.raises(NeedsAnswer) as english:
        plan_with_rules("schedule a review meeting with alice@example.com", now=NOW)
    assert english.value.question == "When should it be?"


def test_it_names_the_steps_in_the_language_of_the_request():
    plan = plan_with_rules(
        "סכם את קבצי ה-CSV של המכירות וקבע פגישת סקירה מחר ב-10",
        now=NOW,
        drive_names=["sales_q1.csv", "sales_q2.csv"],
    )
    assert [step["description"] for step in plan["steps"]] == ["איתור הקבצים", "תיאור הנתונים", "קביעת האירוע"]
    assert plan["steps"][2]["input"]["summary"] == "פגישת סקירה"
    assert plan["steps"][2]["input"]["start"] == "2026-11-24T10:00:00"
    assert plan["language"] == "he"


def test_it_shows_approval_reasons_in_the_readers_language():
    reason = "The action changed since it was approved; decide again. Sends e-mail to 3 recipient(s) outside the system"
    with translation.override("he"):
        assert localised_reason(reason) == "הפעולה השתנתה מאז שאושרה; החליטו שוב. שולח דואר ל־3 נמענים מחוץ למערכת"
        assert localised_reason("A plugin's own reason") == "A plugin's own reason"
    with translation.override("en"):
        assert localised_reason(reason).endswith("Sends e-mail to 3 recipients outside the system")


def test_it_writes_a_hebrew_report_right_to_left_with_hebrew_headings():
    analysis = {"files": [{"name": "sales_q1.csv", "rows": 2, "columns": {"amount": {"type": "number", "sum": 3}}}]}
    with translation.override("en"):  # the console's language does not matter: the request's does
        markdown = render_report("סכם את קבצי המכירות", [analysis, {"summary": "הסכום הוא 3 ב-sales_q1.csv"}], "he")
    assert markdown.startswith('<div dir="rtl">\n\n')
    assert markdown.rstrip().endswith("</div>")
    assert f"# {RLM}סכם את קבצי המכירות" in markdown
    assert f"## {RLM}נתונים" in markdown  # "Data"
    assert "2 שורות, עמודה אחת." in markdown
    assert "| עמודה | סוג |" in markdown
    assert f"{RLM}הסכום הוא 3 ב-{LRI}sales_q1.csv{PDI}" in markdown
    english = render_report("Summarise the sales files", [analysis])
    assert english.startswith("# Summarise the sales files\n")
    assert "## Data" in english
    assert RLM not in english


def test_it_marks_right_to_left_text_in_an_email_body():
    body = "שלום,\n\nהדוח מצורף: reports/sales.md\nנשלח אל bob@example.com\n\nThanks"
    plain = mark_plain(body)
    assert plain.splitlines()[0] == f"{RLM}שלום,"
    assert f"{RLM}הדוח מצורף: {LRI}reports/sales.md{PDI}" in plain
    assert plain.splitlines()[-1] == "Thanks"  # a left-to-right paragraph is left alone
    html = html_body(body)
    assert '<div dir="rtl">' in html
    assert '<bdi dir="ltr">bob@example.com</bdi>' in html
    assert '<p dir="ltr">Thanks</p>' in html
    assert mark_plain("Hello") == "Hello"


def test_it_shows_what_a_step_waits_for_in_the_readers_language():
    waiting = "approval by a person: Sends e-mail to 1 recipient(s) outside the system"
    with translation.override("he"):
        assert localised_waiting(waiting) == "אישור של אדם: שולח דואר לנמען אחד מחוץ למערכת"
    with translation.override("en"):
        assert localised_waiting(waiting) == "approval by a person: Sends e-mail to 1 recipient outside the system"
