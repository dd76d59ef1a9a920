from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_LAST_SEEN = "breachdesk_last_seen"


class SessionTimeoutMiddleware:
    """End a signed-in session after SESSION_IDLE_SECONDS idle or SESSION_COOKIE_AGE in all.

    Django renews a session's expiry whenever the session is saved, which would make the
    8-hour limit a sliding one; pinning an absolute expiry at the first request keeps it
    fixed from sign-in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now()
            session = request.session
            last_seen = session.get(_LAST_SEEN)
            if last_seen is None:
                session.set_expiry(now + timedelta(seconds=settings.SESSION_COOKIE_AGE))
            elif now.timestamp() - last_seen > settings.SESSION_IDLE_SECONDS:
                logout(request)
                messages.warning(request, "You were signed out after a period of inactivity.")
                return redirect_to_login(request.get_full_path())
            session[_LAST_SEEN] = now.timestamp()
        return self.get_response(request)
