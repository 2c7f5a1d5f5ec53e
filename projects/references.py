"""Variable references, resolved at deploy time (Railway's syntax).

    ${{ shared.KEY }}     the environment's shared variable KEY
    ${{ SERVICE.KEY }}    variable KEY of another service in the same environment, including
                          the platform-provided ones (PAAS_PUBLIC_DOMAIN, PAAS_PRIVATE_URL, ...)

A reference to something that does not exist, or a cycle, raises VariableReferenceError naming
the variable. Values are decrypted only for the scopes a resolution actually reaches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from core.crypto import keyring
from projects.domains import public_domain, remember_domains
from projects.models import Environment, Service, Variable, owner_filter

SHARED = "shared"
REFERENCE = re.compile(
    r"\$\{\{\s*(?P<scope>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\s*\.\s*"
    r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
)


class VariableReferenceError(Exception):
    """A reference that cannot be resolved. The message names the variable, never a value."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


def platform_variables(service: Service) -> dict[str, str]:
    """What the platform provides to (and about) a service, referencable by other services."""
    domain = public_domain(service)
    values = {
        "PAAS_SERVICE_NAME": service.name,
        "PAAS_ENVIRONMENT_NAME": service.environment.name,
        "PAAS_PROJECT_NAME": service.environment.project.name,
        "PAAS_PUBLIC_DOMAIN": domain,
        "PAAS_PUBLIC_URL": f"https://{domain}",
    }
    active = service.active_deployment
    if active is not None and active.port:
        values["PAAS_PRIVATE_URL"] = f"http://127.0.0.1:{active.port}"
    return values


class Resolver:
    """Resolves the variables of the services of one environment.

    A scope (a service name, or "shared") is read from the database once, with one query, and
    a value is decrypted only when a resolution reaches it: resolving a service decrypts its
    own variables in one pass, and of the other scopes only the variables referenced.

    `pending` overlays values by scope, so that staged changes can be checked before they are
    applied. `rows` gives a scope's stored (key, ciphertext) rows instead of the database
    (benchmarks measure decryption and resolution alone with it).
    """

    def __init__(self, environment: Environment,
                 pending: Mapping[str, Mapping[str, str]] | None = None, *,
                 services: list[Service] | None = None,
                 rows: Callable[[str], list[tuple[str, bytes]]] | None = None) -> None:
        self.environment = environment
        if services is None:
            services = list(environment.services.select_related(
                "active_deployment", "environment__project"
            ))
        remember_domains(services)  # their PAAS_PUBLIC_DOMAIN, read in one query
        self.services = {service.name: service for service in services}
        self.pending = pending or {}
        self.rows = rows
        self._keyring = keyring()
        self._prefixes: dict[str, bytes] = {}
        self._stored: dict[str, dict[str, bytes]] = {}
        self._plain: dict[str, dict[str, str]] = {}
        self._resolved: dict[tuple[str, str], str] = {}

    def _owner(self, scope: str) -> Service | Environment:
        return self.environment if scope == SHARED else self.services[scope]

    def _load(self, scope: str) -> bool:
        """Read the scope's ciphertexts (or pending values); False for an unknown service."""
        if scope in self._plain:
            return True
        if scope != SHARED and scope not in self.services:
            return False
        plain = {} if scope == SHARED else platform_variables(self.services[scope])
        if scope in self.pending:
            plain.update(self.pending[scope])
            stored = {}
        elif self.rows is not None:
            stored = dict(self.rows(scope))
        else:
            stored = dict(Variable.objects.filter(**owner_filter(self._owner(scope)))
                          .values_list("key", "ciphertext"))
        self._plain[scope], self._stored[scope] = plain, stored
        return True

    def _decrypt(self, scope: str, key: str | None = None) -> None:
        """Decrypt one stored value of the scope (if not done yet), or all of them."""
        stored = self._stored[scope]
        if key is None:
            rows = list(stored.items())
            stored.clear()
        elif key in stored:
            rows = [(key, stored.pop(key))]
        else:
            return
        if not rows:
            return
        if scope not in self._prefixes:
            self._prefixes[scope] = Variable.associated_data_prefix(self._owner(scope))
        self._plain[scope].update(self._keyring.decrypt_many(self._prefixes[scope], rows))

    def own_keys(self, scope: str) -> list[str]:
        """The user-set variables of a scope (not the platform's), sorted."""
        if not self._load(scope):
            return []
        if scope in self.pending:
            return sorted(self.pending[scope])
        own = set(self._stored[scope]) | (set(self._plain[scope]) - self._platform_keys(scope))
        return sorted(own)

    def _platform_keys(self, scope: str) -> set[str]:
        return set() if scope == SHARED else set(platform_variables(self.services[scope]))

    def value(self, scope: str, key: str, chain: tuple[tuple[str, str], ...] = ()) -> str:
        if (scope, key) in self._resolved:
            return self._resolved[(scope, key)]
        origin = chain[0][1] if chain else key
        if (scope, key) in chain:
            loop = " → ".join(f"{s}.{k}" for s, k in (*chain, (scope, key)))
            raise VariableReferenceError(origin, f"references form a cycle ({loop})")
        if not self._load(scope):
            raise VariableReferenceError(
                origin, f"references service “{scope}”, which is not in this environment"
            )
        self._decrypt(scope, key)
        plain = self._plain[scope]
        if key not in plain:
            missing = (
                f"there is no shared variable {key}" if scope == SHARED
                else f"service {scope} has no variable {key}"
            )
            hint = " (it has no running deployment yet)" if key == "PAAS_PRIVATE_URL" else ""
            raise VariableReferenceError(origin, f"references {scope}.{key}, but {missing}{hint}")
        resolved = plain[key]
        if "${{" in resolved:
            link = (*chain, (scope, key))
            resolved = REFERENCE.sub(lambda m: self.value(m["scope"], m["key"], link), resolved)
        self._resolved[(scope, key)] = resolved
        return resolved

    def resolve(self, scope: str) -> dict[str, str]:
        """Every variable of the scope with references replaced; the first problem raises."""
        if not self._load(scope):
            return {}
        self._decrypt(scope)
        return {
            key: self.value(scope, key) if "${{" in value else value
            for key, value in self._plain[scope].items()
        }

    def problems(self, scope: str) -> list[str]:
        """One message per variable of the scope whose references do not resolve."""
        if not self._load(scope):
            return []
        self._decrypt(scope)
        found = []
        for key in self.own_keys(scope):
            try:
                self.value(scope, key)
            except VariableReferenceError as error:
                found.append(str(error))
        return found


def resolve_service(service: Service) -> dict[str, str]:
    """What a deployment of `service` runs with: platform variables, then its own, resolved."""
    return Resolver(service.environment).resolve(service.name)
