from django import forms

from projects.models import Project


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
