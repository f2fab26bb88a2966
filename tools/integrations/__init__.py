"""The built-in integrations, one folder each (tool, client, settings), and their tools.

`tools/integrations/<name>/tool.py` holds the tools, `client.py` what talks
to the outside (CalDAV, an OpenAI-compatible endpoint), `settings.py` how a
workspace's settings are read; what is shared by every integration stays in
`tools/`: the contract (`base.py`), the workspace drive (`drive.py`), the
SSRF guard (`ssrf.py`) and the guarded HTTP transport (`http.py`), which
plugins import too. BUILTIN_TOOLS are registered at start-up by the tools app.
"""

from __future__ import annotations

from tools.base import Tool
from tools.integrations.analysis.tool import AnalysisDescribe
from tools.integrations.calendar.tool import CalendarCreateEvent, CalendarDeleteEvent, CalendarListEvents
from tools.integrations.drive.tool import DriveList, DriveRead, DriveSearch, DriveWrite
from tools.integrations.email.tool import EmailSend
from tools.integrations.llm.tool import AnalysisSummarise, LLMChat
from tools.integrations.report.tool import ReportCompose
from tools.integrations.web.tool import WebGet, WebPost

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
