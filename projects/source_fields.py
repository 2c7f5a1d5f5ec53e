"""The source fields of the service forms (repository URL, branch, connected GitHub
repository) as templates/projects/_source_fields.html renders them: from a form, or from
the GitHub picker once a repository is picked (then the branch is a list to choose from)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.forms import BaseForm

# The id prefix of a form's fields ("env5_" on the inline form of environment 5, "id_").
ID_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,19}")


@dataclass
class SourceFields:
    id_prefix: str
    repository_url: str = ""
    branch: str = "main"
    github_repository: str = ""
    private: bool | None = None  # known when just picked
    branches: list[str] | None = None  # picked: the repository's branches
    branches_truncated: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)
    url_help: str = ""


def id_prefix_of(form: BaseForm) -> str:
    return form.auto_id.replace("%s", "") if isinstance(form.auto_id, str) else "id_"


def from_form(form: BaseForm) -> SourceFields:
    """The fields as the form holds them (submitted values, or the instance's)."""
    def value(name: str) -> str:
        current = form[name].value()
        return "" if current is None else str(current)

    return SourceFields(
        id_prefix=id_prefix_of(form), repository_url=value("repository_url"),
        branch=value("branch") or "main", github_repository=value("github_repository"),
        errors={name: list(form.errors[name]) for name in
                ("repository_url", "branch", "github_repository") if name in form.errors},
        url_help=str(form.fields["repository_url"].help_text))
