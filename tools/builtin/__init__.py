"""The built-in tools, registered at start-up by the tools app."""

from __future__ import annotations

from tools.base import Tool
from tools.builtin.analysis import AnalysisDescribe
from tools.builtin.calendar import CalendarCreateEvent, CalendarDeleteEvent, CalendarListEvents
from tools.builtin.drive import DriveList, DriveRead, DriveSearch, DriveWrite
from tools.builtin.email import EmailSend
from tools.builtin.llm import AnalysisSummarise, LLMChat
from tools.builtin.report import ReportCompose
from tools.builtin.web import WebGet, WebPost

BUILTIN_TOOLS: list[type[Tool]] = [
    DriveList,
    DriveSearch,
    DriveRead,
    DriveWrite,
    AnalysisDescribe,
    AnalysisSummarise,
    ReportCompose,
    LLMChat,
    EmailSend,
    WebGet,
    WebPost,
    CalendarCreateEvent,
    CalendarListEvents,
    CalendarDeleteEvent,
]
