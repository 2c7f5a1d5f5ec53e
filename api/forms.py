"""The dashboard's "New token" form."""

from __future__ import annotations

from django import forms

from api.tokens import EXPIRY_DAYS


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “deploy from CI”.")
    days = forms.TypedChoiceField(
        label="Expires after", coerce=int, initial=30,
        choices=[(days, f"{days} days") for days in EXPIRY_DAYS],
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name
