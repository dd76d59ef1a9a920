"""Tracking webhooks of the email providers, one endpoint each: anymail authenticates and
normalises, we store and return. Applying the events is the task cluster's work
(services.provider_events), so a burst of events never slows the provider's requests."""

import json
import logging
import threading
import time
import warnings
from typing import Any

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from config.services import enqueue_on_commit

from .services.provider_events import delivery_event_row, delivery_events_store

logger = logging.getLogger(__name__)

# We refuse every request of a provider whose webhook has no credentials (below), so
# anymail's warning that such a webhook would be open is moot, and would repeat per request.
warnings.filterwarnings("ignore", category=AnymailInsecureWebhookWarning)

# A web process asks the task cluster to apply events at most this often; the task looks
# once more after this long before it stops, so nothing stored in between waits.
APPLY_ENQUEUE_INTERVAL = 1.0
_enqueue_lock = threading.Lock()
_last_enqueue = 0.0


def _apply_soon() -> None:
    global _last_enqueue
    with _enqueue_lock:
        now = time.monotonic()
        if now - _last_enqueue < APPLY_ENQUEUE_INTERVAL:
            return
        _last_enqueue = now
    enqueue_on_commit("notifications.tasks.delivery_events_apply_task")


class TrackingWebhook:
    """Mixed in before an anymail tracking view: refuse what does not authenticate, answer
    400 to what does not parse, store the rest in one INSERT. Nothing of a refused or
    malformed body is logged or written."""

    provider = ""
    # Whether anymail's basic auth is this provider's only proof (no signature of its own).
    needs_basic_auth = True
    # Whether the body is JSON whatever its content type says (SNS posts text/plain).
    json_body = False
    refusal = ""

    def __init__(self, **kwargs: Any) -> None:
        try:
            super().__init__(**kwargs)
        except AnymailConfigurationError:
            self.refusal = "no signing key is configured"

    def _refuse(self, request: HttpRequest, reason: str) -> HttpResponse:
        logger.warning(
            "Refused a %s webhook from %s: %s (%d bytes, body not logged)",
            self.provider,
            request.META.get("REMOTE_ADDR", "?"),
            reason,
            len(request.body),
        )
        return HttpResponse("Refused.", status=403, content_type="text/plain")

    def _malformed(self, request: HttpRequest, error: Exception) -> HttpResponse:
        logger.warning(
            "Malformed %s webhook from %s: %s (%d bytes, body not logged, nothing kept)",
            self.provider,
            request.META.get("REMOTE_ADDR", "?"),
            type(error).__name__,
            len(request.body),
        )
        return HttpResponse(
            f"Malformed {self.provider} tracking payload: {type(error).__name__}.",
            status=400,
            content_type="text/plain",
        )

    def _unauthenticated(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to a request that carries no credentials at all, if not a refusal."""
        return None

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view: Any = self
        if self.refusal:
            return self._refuse(request, self.refusal)
        if self.needs_basic_auth and not view.basic_auth:
            return self._refuse(request, "no webhook secret (ANYMAIL_WEBHOOK_SECRET) configured")
        if view.basic_auth:
            if "HTTP_AUTHORIZATION" not in request.META and (
                answer := self._unauthenticated(request)
            ):
                return answer
            # The credentials first, before anything reads the body: a stranger's post is
            # refused whatever it holds, never parsed.
            try:
                AnymailBasicAuthMixin.validate_request(view, request)
            except AnymailWebhookValidationFailure as error:
                return self._refuse(request, str(error))
        if self.json_body or request.content_type == "application/json":
            try:
                json.loads(request.body)
            except ValueError as error:
                return self._malformed(request, error)
        try:
            view.run_validators(request)
        except AnymailWebhookValidationFailure as error:
            return self._refuse(request, str(error))
        except (AnymailAPIError, AttributeError, LookupError, TypeError) as error:
            # A body anymail cannot read, or a JSON list or string where an object belongs
            # (anymail's own words quote the body: only the error's name is logged).
            return self._malformed(request, error)
        received_at = timezone.now()
        try:
            rows = [
                delivery_event_row(provider=self.provider, event=event, received_at=received_at)
                for event in view.parse_events(request)
            ]
        except (AnymailError, AnymailConfigurationError, LookupError, TypeError, ValueError) as e:
            return self._malformed(request, e)
        except AttributeError as error:
            # A JSON list or string where the provider sends an object.
            return self._malformed(request, error)
        # One statement on PostgreSQL, atomic by itself: no transaction around it.
        if delivery_events_store(rows=rows):
            _apply_soon()
        return HttpResponse("OK", content_type="text/plain")


class PostmarkTracking(TrackingWebhook, PostmarkTrackingWebhookView):
    provider = "postmark"


class BrevoTracking(TrackingWebhook, BrevoTrackingWebhookView):
    provider = "brevo"


class MailgunTracking(TrackingWebhook, MailgunTrackingWebhookView):
    provider = "mailgun"
    # Mailgun signs each event (MAILGUN_WEBHOOK_SIGNING_KEY); basic auth is checked too
    # when a webhook secret is set.
    needs_basic_auth = False


class AmazonSESTracking(TrackingWebhook, AmazonSESTrackingWebhookView):
    """Amazon SES publishes its events to an SNS topic, which posts them here.

    SNS proves nothing by itself that anymail checks (anymail does not verify SNS
    signatures): the basic-auth secret in the subscription's URL is the proof, so without
    one every request is refused. SNS sends that secret only after a 401 asking for it;
    the subscription's confirmation is answered by anymail (boto3) once authenticated.
    """

    provider = "amazon_ses"
    json_body = True

    def _unauthenticated(self, request: HttpRequest) -> HttpResponse | None:
        logger.info(
            "Asked an %s webhook from %s for its basic auth (SNS sends it when asked)",
            self.provider,
            request.META.get("REMOTE_ADDR", "?"),
        )
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
        return response


PROVIDER_VIEWS: dict[str, Any] = {
    "amazon_ses": AmazonSESTracking,
    "postmark": PostmarkTracking,
    "brevo": BrevoTracking,
    "mailgun": MailgunTracking,
}
