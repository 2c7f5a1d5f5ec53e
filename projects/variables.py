"""Variables of a service (or shared by an environment): staged changes and reveals.

Changes are staged and applied together ("Apply N changes"), as in Railway. Values are
encrypted at rest (core.crypto) while staged and applied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from projects.dotenv import EnvParseError, parse_env, validate_key, validate_value
from projects.models import (
    Environment,
    Service,
    StagedChange,
    Variable,
    VariableReveal,
    owner_filter,
)
from projects.references import SHARED, Resolver, resolve_service
from projects.validators import reserved_key_reason, validate_unreserved_key
from tenants import audit
from tenants.models import AuditAction, User

Owner = Service | Environment


@dataclass(frozen=True)
class Change:
    """A line of the staged diff: keys only, never values."""

    key: str
    kind: str  # "added", "changed" or "removed"


@sensitive_variables()
def current_values(owner: Owner) -> dict[str, str]:
    return Variable.decrypt_all(owner)


@sensitive_variables()
def pending_values(owner: Owner) -> dict[str, str]:
    """The owner's variables as they will be once the staged changes are applied."""
    values = current_values(owner)
    for change in StagedChange.objects.filter(**owner_filter(owner)):
        if change.action == StagedChange.DELETE:
            values.pop(change.key, None)
        else:
            values[change.key] = change.decrypt()
    return values


@sensitive_variables()
def _stage(owner: Owner, key: str, value: str | None, current: dict[str, str], by: str) -> None:
    rows = StagedChange.objects.filter(**owner_filter(owner), key=key)
    unchanged = current.get(key) == value if value is not None else key not in current
    if unchanged:
        rows.delete()
        return
    change = rows.first() or StagedChange(**owner_filter(owner), key=key)
    change.staged_by = by
    if value is None:
        change.action, change.ciphertext = StagedChange.DELETE, None
    else:
        change.action = StagedChange.SET
        change.set_value(value)
    change.save()


@transaction.atomic
@sensitive_variables()  # innermost: it guards the frame right below it
def stage(owner: Owner, key: str, value: str | None, user: User) -> None:
    """Stage setting `key` to `value`, or deleting it (value None). A no-op un-stages.

    A reserved key (PM2's, the platform's) may be deleted, never set."""
    validate_key(key)
    if value is not None:
        validate_unreserved_key(key)
        validate_value(value, key)
    _stage(owner, key, value, current_values(owner), user.email)


@transaction.atomic
@sensitive_variables()  # innermost: it guards the frame right below it
def stage_env_text(owner: Owner, text: str, user: User) -> None:
    """Stage whatever turns the variables into exactly those of the `.env` text.

    EnvParseError (with line numbers) if any line is wrong, or naming each reserved key the
    text sets; then nothing is staged."""
    desired = parse_env(text)
    reserved = [reason for key in sorted(desired) if (reason := reserved_key_reason(key))]
    if reserved:
        raise EnvParseError(reserved, code="reserved_key")
    current = current_values(owner)
    for key in sorted(set(current) | set(desired)):
        _stage(owner, key, desired.get(key), current, user.email)
    StagedChange.objects.filter(**owner_filter(owner)).exclude(
        key__in=set(current) | set(desired)
    ).delete()


def discard_staged(owner: Owner) -> int:
    return StagedChange.objects.filter(**owner_filter(owner)).delete()[0]


def staged_diff(owner: Owner) -> list[Change]:
    existing = set(Variable.objects.filter(**owner_filter(owner)).values_list("key", flat=True))
    changes = []
    for change in StagedChange.objects.filter(**owner_filter(owner)):
        if change.action == StagedChange.DELETE:
            kind = "removed"
        else:
            kind = "changed" if change.key in existing else "added"
        changes.append(Change(change.key, kind))
    return changes


@transaction.atomic
@sensitive_variables()  # innermost: it guards the frame right below it
def apply_staged(owner: Owner, keys: Collection[str] | None = None) -> int:
    """Apply every staged change of the owner at once (or those of `keys` only); return how
    many were applied."""
    staged = StagedChange.objects.select_for_update().filter(**owner_filter(owner))
    if keys is not None:
        staged = staged.filter(key__in=keys)
    changes = list(staged)
    for change in changes:
        rows = Variable.objects.filter(**owner_filter(owner), key=change.key)
        if change.action == StagedChange.DELETE:
            rows.delete()
            continue
        variable = rows.first() or Variable(**owner_filter(owner), key=change.key)
        variable.set_value(change.decrypt())
        variable.save()
    StagedChange.objects.filter(pk__in=[change.pk for change in changes]).delete()
    if changes:  # keys only, never a value
        audit.record(AuditAction.VARIABLES_CHANGED, owner,
                     set=sorted(c.key for c in changes if c.action != StagedChange.DELETE),
                     deleted=sorted(c.key for c in changes if c.action == StagedChange.DELETE))
    return len(changes)


@transaction.atomic
@sensitive_variables()  # innermost: it guards the frame right below it
def set_now(owner: Owner, values: Mapping[str, str | None], user: User) -> int:
    """Set each key to its value, or delete it (None), at once: staged and applied as
    "Apply" does (one audit event, keys only), leaving others' staged changes of other keys
    staged. The caller validated the keys and values (the page's VariableForm)."""
    current = current_values(owner)
    for key in sorted(values):
        _stage(owner, key, values[key], current, user.email)
    return apply_staged(owner, keys=list(values))


def reference_problems(owner: Owner, *, staged: bool = False) -> list[str]:
    """Warnings: references of the owner's variables that do not resolve (now, or once the
    staged changes are applied)."""
    environment = owner if isinstance(owner, Environment) else owner.environment
    scope = SHARED if isinstance(owner, Environment) else owner.name
    pending = {scope: pending_values(owner)} if staged else None
    if staged and isinstance(owner, Service):
        pending[SHARED] = pending_values(environment)
    return Resolver(environment, pending).problems(scope)


@sensitive_variables()
def reveal(variable: Variable, user: User) -> str:
    """The plaintext, for a user whose role may read secrets; the reveal is recorded."""
    VariableReveal.objects.create(
        owner_type=variable.owner_type, owner_id=variable.owner_id, key=variable.key,
        user_id=user.pk, user_email=user.email,
    )
    audit.record(AuditAction.SECRET_REVEALED, variable.owner, user=user, key=variable.key)
    return variable.decrypt()


ALL_KEYS = "*"  # the key a reveal of every value at once is recorded under


@sensitive_variables()
def reveal_all(owner: Owner, user: User) -> dict[str, str]:
    """Every pending value of the owner (the raw editor), recorded as one reveal of all keys."""
    VariableReveal.objects.create(
        owner_type="service" if isinstance(owner, Service) else "environment",
        owner_id=owner.pk, key=ALL_KEYS, user_id=user.pk, user_email=user.email,
    )
    audit.record(AuditAction.SECRET_REVEALED, owner, user=user, key=ALL_KEYS)
    return pending_values(owner)


@sensitive_variables()
def reveal_resolved(service: Service, user: User) -> dict[str, str]:
    """What a deployment of the service would run with now (references resolved, platform
    variables included), recorded as one reveal of all its keys. VariableReferenceError if a
    reference does not resolve."""
    values = resolve_service(service)
    VariableReveal.objects.create(owner_type="service", owner_id=service.pk, key=ALL_KEYS,
                                  user_id=user.pk, user_email=user.email)
    audit.record(AuditAction.SECRET_REVEALED, service, user=user, key=ALL_KEYS, resolved=True)
    return values
