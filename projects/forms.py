from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from projects.dotenv import validate_key, validate_value
from projects.models import Environment, Project, Service
from projects.references import SHARED
from projects.validators import RESERVED_SERVICE_NAMES, validate_branch, validate_repository_url


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

    text = forms.CharField(required=False, strip=False, widget=forms.Textarea,
                           max_length=256 * 1024)
