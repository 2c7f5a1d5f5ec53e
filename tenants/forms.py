from django import forms
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm

from tenants.invitations import INVITABLE
from tenants.models import Membership, User, Workspace
from tenants.roles import Role
from tenants.services import validate_workspace_slug


class SignupForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Your team's name, as people see it.")
    slug = forms.CharField(
        label="URL name", max_length=60,
        help_text="Lowercase letters, digits and hyphens; it becomes the workspace's web address.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the workspace a name.")
        return name

    def clean_slug(self) -> str:
        return validate_workspace_slug(self.cleaned_data["slug"])


class InviteForm(forms.Form):
    """Invite someone to a workspace with a role (a member or an admin)."""

    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=[(role.value, role.label) for role in INVITABLE],
                             initial=Role.MEMBER)

    def __init__(self, *args: object, workspace: Workspace, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.filter(workspace=self.workspace, user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of this workspace.")
        if self.workspace.invitations.pending().filter(email=email).exists():
            raise forms.ValidationError("This address is already invited: resend or revoke "
                                        "the pending invitation.")
        return email


class WorkspaceRenameForm(forms.ModelForm):
    """A workspace's name. Its slug (its address) stays: links and bookmarks keep working."""

    class Meta:
        model = Workspace
        fields = ["name"]


class WorkspaceDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=100, label="Type the workspace's slug to confirm")

    def __init__(self, *args: object, workspace: Workspace, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.workspace.slug:
            raise forms.ValidationError(f"Type {self.workspace.slug} to delete this workspace.")
        return typed
