"""Sign-in lockout that resists password spraying and cannot lock a person out.

Two counts, both of one client (django-axes keeps them):

- failures of one username from that client: LOGIN_FAILURE_LIMIT (brute force on a user);
- failures of any usernames from that client: LOGIN_CLIENT_FAILURE_LIMIT (spraying many
  names with a few guesses each).

Either locks that client out, for every username, until the cool-off ends. Nothing is
counted per username alone, so failing as the CMO from elsewhere never locks the CMO out;
behind a proxy the client is the address the trusted proxy saw (TRUSTED_PROXY_COUNT), not
the proxy's, which every client would share.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler  # type: ignore[import-untyped]
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind N trusted proxies the N-th address
    from the right of X-Forwarded-For (each proxy appends the address it received from;
    whatever the client itself sent stands further left and is ignored)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(settings.TRUSTED_PROXY_COUNT)
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a second, higher limit per client.

    AXES_LOCKOUT_PARAMETERS lists (username, client) first and the client alone second;
    axes compares one number with AXES_FAILURE_LIMIT, so the client's count is scaled to it:
    it reaches the limit exactly when the client reaches LOGIN_CLIENT_FAILURE_LIMIT.
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        per_user, per_client = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        user_limit = int(settings.AXES_FAILURE_LIMIT)
        client_limit = max(int(settings.LOGIN_CLIENT_FAILURE_LIMIT), 1)
        return max(per_user, per_client * user_limit // client_limit)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A success clears that username's failures from that client, not the client's
        others: an insider signing in with their own account between guesses at other
        accounts must not wipe the count that stops the spraying."""
        per_user, *_others = self.filter_user_attempts(request, credentials)
        count: int = per_user.delete()[0]
        return count
