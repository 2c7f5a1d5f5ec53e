import os
import re
import subprocess
import tempfile
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from projects.dotenv import validate_key, validate_value
from projects.models import Environment, Project, Service
from projects.references import SHARED


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the project a name.")
        if any(char in name for char in "<>"):
            raise forms.ValidationError("Project names cannot contain < or >.")
        if Project.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A project with this name already exists.")
        return name


# Services ---------------------------------------------------------------------------------

RESERVED_SERVICE_NAMES = frozenset({SHARED})
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]|\s")
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\s")


def validate_repository_url(url: str) -> None:
    """Raise ValidationError unless `url` is a repository the deploy engine may fetch.

    https:// only; file:// URLs and absolute local paths only when PAAS_ALLOW_LOCAL_REPOS is on.
    Nothing git could read as an option (a leading "-") or as a transport helper ("ext::").
    """
    if url.startswith("-"):
        raise ValidationError("A repository URL cannot start with “-”.")
    if _CONTROL_OR_SPACE.search(url):
        raise ValidationError("A repository URL cannot contain spaces or control characters.")
    local = settings.PAAS_ALLOW_LOCAL_REPOS
    if url.startswith("/"):
        if not local:
            raise ValidationError("Local paths are not allowed on this host; use an https:// URL.")
        return
    parts = urlsplit(url)
    if parts.scheme == "file" and url.startswith("file:///"):
        if not local:
            raise ValidationError(
                "file:// repositories are not allowed on this host; use an https:// URL."
            )
        return
    if parts.scheme != "https" or not url.startswith("https://") or not parts.hostname:
        allowed = "an https:// URL" + (", a file:// URL or an absolute path" if local else "")
        raise ValidationError(f"Use {allowed}, e.g. https://github.com/you/app.")
    if "@" in parts.netloc:
        raise ValidationError(
            "Leave credentials out of the URL; the panel passes them to git separately."
        )
    try:
        _ = parts.port  # ValueError for a port that is not a number
    except ValueError:
        raise ValidationError("The URL's port is not a number.") from None


def validate_branch(branch: str) -> None:
    """Raise ValidationError unless `branch` is a valid branch name, as for
    `git check-ref-format --branch`, which is asked as well when git is installed."""
    problem = None
    if branch.startswith("-"):
        problem = "cannot start with “-”"
    elif _BRANCH_FORBIDDEN.search(branch):
        problem = "cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"
    elif ".." in branch:
        problem = "cannot contain “..”"
    elif "@{" in branch or branch in {"@", "HEAD"}:
        problem = "cannot be “@” or “HEAD”, nor contain “@{”"
    elif branch.startswith("/") or branch.endswith("/") or "//" in branch:
        problem = "cannot start or end with “/” or contain “//”"
    elif branch.endswith("."):
        problem = "cannot end with “.”"
    elif any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        problem = "cannot have a part that starts with “.” or ends with “.lock”"
    elif not _git_accepts_branch(branch):
        problem = "is not one git accepts"
    if problem:
        raise ValidationError(f"A branch name {problem}.")


def _git_accepts_branch(branch: str) -> bool:
    """What `git check-ref-format --branch` says (argv list, no shell); True without git."""
    try:
        result = subprocess.run(
            ["git", "check-ref-format", "--branch", branch],
            cwd=tempfile.gettempdir(), capture_output=True, timeout=5, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
                 "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
        )
    except (OSError, subprocess.TimeoutExpired):
        return True
    return result.returncode == 0


class ServiceForm(forms.ModelForm):
    branch = forms.CharField(
        max_length=255, required=False, initial="main",
        help_text="Deployed from this branch; “main” when left blank.",
    )

    class Meta:
        model = Service
        fields = ["name", "repository_url", "branch"]
        labels = {"repository_url": "Repository URL"}
        help_texts = {
            "name": "Lowercase letters, digits and hyphens; it becomes part of the service's "
                    "domain.",
            "repository_url": "An https:// git URL. You can add it later.",
        }

    def __init__(self, *args: object, environment: Environment, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.environment = environment
        self.instance.environment = environment
        if settings.PAAS_ALLOW_LOCAL_REPOS:
            self.fields["repository_url"].help_text = (
                "An https:// git URL, or (on this host) a file:// URL or absolute path. "
                "You can add it later."
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if name in RESERVED_SERVICE_NAMES:
            raise ValidationError(
                f"“{name}” is reserved: ${{{{ {SHARED}.KEY }}}} references shared variables."
            )
        if Service.objects.filter(environment=self.environment, name=name).exists():
            raise ValidationError(f"This environment already has a service named {name}.")
        return name

    def clean_repository_url(self) -> str:
        url = self.cleaned_data["repository_url"]
        if url:
            validate_repository_url(url)
        return url

    def clean_branch(self) -> str:
        branch = self.cleaned_data["branch"] or "main"
        validate_branch(branch)
        return branch


# Variables --------------------------------------------------------------------------------


def _normalise_newlines(value: str) -> str:
    """Browsers send textarea line breaks as CRLF; a variable keeps plain LF."""
    return value.replace("\r\n", "\n")


class VariableValueForm(forms.Form):
    """A new value for an existing key. The value is never quoted back in an error."""

    value = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 1}))

    def __init__(self, *args: object, key: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.key = key

    def clean_value(self) -> str:
        value = _normalise_newlines(self.cleaned_data["value"])
        validate_value(value, self.key or None)
        return value


class VariableForm(VariableValueForm):
    """A key and its value, for "New variable"."""

    key = forms.CharField()
    field_order = ["key", "value"]

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        validate_key(key)
        self.key = key
        return key

    def clean_value(self) -> str:
        value = _normalise_newlines(self.cleaned_data["value"])
        validate_value(value, self.cleaned_data.get("key"))
        return value


class RawVariablesForm(forms.Form):
    """The raw editor: the variables as `.env` text."""

    text = forms.CharField(required=False, strip=False, widget=forms.Textarea)
