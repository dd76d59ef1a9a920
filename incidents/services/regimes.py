"""Regimes are data an admin may correct: each change is saved with who made it and what
changed. Obligations copied their terms when created, so no started clock moves."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.forms.models import model_to_dict

from incidents.models import Regime, RegimeChange


def _snapshot(regime: Regime) -> dict[str, Any]:
    data = model_to_dict(regime)
    encoder = DjangoJSONEncoder()
    return {
        key: value
        if isinstance(value, (str, int, bool, list, type(None)))
        else encoder.default(value)
        for key, value in data.items()
    }


@transaction.atomic
def regime_save(*, regime: Regime, actor: User | AnonymousUser | None) -> RegimeChange | None:
    """Save an admin's edit of a regime (or a new regime) and log what changed."""
    before = _snapshot(Regime.objects.select_for_update().get(pk=regime.pk)) if regime.pk else {}
    regime.full_clean()
    regime.save()
    after = _snapshot(regime)
    changed = sorted(k for k in after if before.get(k) != after[k])
    if not changed:
        return None
    return RegimeChange.objects.create(
        regime=regime,
        changed_by=actor if isinstance(actor, User) else None,
        before={k: before.get(k) for k in changed},
        after={k: after[k] for k in changed},
    )
