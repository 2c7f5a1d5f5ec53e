"""The "New environment" form: a name, and the environment it is a copy of."""

from __future__ import annotations

from django import forms

from projects.environments import PREVIEW_NAME, validate_environment_name
from projects.models import Environment, Project


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="lowercase letters, digits and hyphens, "
                                                    "e.g. staging")
    copy_of = forms.ModelChoiceField(
        queryset=Environment.objects.none(), empty_label=None, label="Copy of",
        help_text="its services, settings and variables are copied; nothing is deployed",
    )

    def __init__(self, *args: object, project: Project, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["copy_of"].queryset = project.environments.all()
        self.fields["copy_of"].label_from_instance = lambda environment: (
            f"{environment.name} (preview of PR #{environment.pull_request})"
            if environment.is_preview else environment.name)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if PREVIEW_NAME.fullmatch(name):
            raise forms.ValidationError(
                "Names like pr-12 are kept for the previews of pull requests.")
        try:
            validate_environment_name(self.project.pk, name)
        except forms.ValidationError as error:
            raise forms.ValidationError(error.message_dict["name"]) from None
        return name
