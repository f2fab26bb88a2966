from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.languages import is_supported, set_cookie
from tenancy.language import choose_language


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """The navigation's language switcher: remembered on the person's preferences and in a cookie.

    Open to visitors too (the login page has the switcher): for them only the cookie remembers.
    """
    code = request.POST.get("language", "")
    if not is_supported(code):
        return HttpResponse("Unknown language.", status=400, content_type="text/plain; charset=utf-8")
    choose_language(request, code)
    translation.activate(code)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        response: HttpResponse = redirect("orchestration:index")
    else:
        response = HttpResponseRedirect(next_url)
    set_cookie(response, code)
    return response
