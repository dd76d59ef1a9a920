from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_LAST_SEEN = "breachdesk_last_seen"
# Recording activity writes the session; once a minute is precise enough for a 30-minute
# idle limit and spares a database write on nearly every request.
_TOUCH_EVERY_SECONDS = 60


def session_start(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """On sign-in (user_logged_in), pin the session's absolute expiry.

    Django renews a session's expiry whenever it is saved, which would make the 8-hour
    limit a sliding one; an explicit expiry date keeps it fixed from sign-in.
    """
    now = timezone.now()
    request.session.set_expiry(now + timedelta(seconds=settings.SESSION_COOKIE_AGE))
    request.session[_LAST_SEEN] = now.timestamp()


class SessionTimeoutMiddleware:
    """Sign out a session that has seen no request for SESSION_IDLE_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            last_seen = request.session.get(_LAST_SEEN, now)
            if now - last_seen > settings.SESSION_IDLE_SECONDS:
                logout(request)
                messages.warning(request, "You were signed out after a period of inactivity.")
                return redirect_to_login(request.get_full_path())
            if now - last_seen >= _TOUCH_EVERY_SECONDS or _LAST_SEEN not in request.session:
                request.session[_LAST_SEEN] = now
        return self.get_response(request)
