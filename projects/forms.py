from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from projects.connections import check_repository
from projects.custom_domains import allows_wildcards, available, validate_hostname
from projects.dotenv import validate_key, validate_value
from projects.models import Environment, Project, Service
from projects.references import SHARED
from projects.validators import (
    MAX_COMMAND_LENGTH,
    MAX_HEALTHCHECK_PATH_LENGTH,
    RESERVED_SERVICE_NAMES,
    validate_branch,
    validate_command,
    validate_healthcheck_path,
    validate_repository_url,
    validate_root_directory,
    validate_unreserved_key,
)
from tenants.models import User


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
        if Project.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A project with this name already exists.")
        return name


# Services ---------------------------------------------------------------------------------


class SourceFieldsMixin:
    """The checks of a service's repository URL and branch, shared by its forms, and its
    connection to a GitHub repository: `github_repository` (a hidden field the picker fills
    in) is checked against the signed-in user's GitHub token on every save that changes it,
    and the service then clones GitHub's clone URL with that user's token. Typing another
    URL by hand disconnects it."""

    cleaned_data: dict
    instance: Service
    user: User | None = None
    # Set by clean(): the save connects the service to a repository it was not connected to.
    newly_connected = False

    def clean(self) -> dict:
        cleaned = super().clean()  # type: ignore[misc]
        picked = (cleaned.get("github_repository") or "").strip()
        instance = self.instance
        if not picked or (instance.pk and picked == instance.github_repository
                          and cleaned.get("repository_url") != instance.repository_url):
            return self._connect(cleaned, "", None)
        if instance.pk and picked == instance.github_repository:
            return self._connect(cleaned, picked, instance.github_user_id)
        try:
            if self.user is None:
                raise ValidationError("Sign in with GitHub to connect a GitHub repository.")
            repository = check_repository(self.user, picked)
        except ValidationError as error:
            self.add_error("github_repository", error)
            return cleaned
        cleaned["repository_url"] = repository.clone_url
        self.newly_connected = True
        return self._connect(cleaned, repository.full_name, repository.account_id)

    def _connect(self, cleaned: dict, full_name: str, account_id: int | None) -> dict:
        cleaned["github_repository"] = full_name
        cleaned["github_user_id"] = self.instance.github_user_id = account_id
        return cleaned

    def clean_repository_url(self) -> str:
        url = self.cleaned_data["repository_url"]
        if url:
            validate_repository_url(url)
        return url

    def clean_branch(self) -> str:
        branch = self.cleaned_data["branch"] or "main"
        validate_branch(branch)
        return branch


class ServiceForm(SourceFieldsMixin, forms.ModelForm):
    branch = forms.CharField(
        max_length=255, required=False, initial="main",
        help_text="Deployed from this branch; “main” when left blank.",
    )

    class Meta:
        model = Service
        fields = ["name", "repository_url", "branch", "github_repository"]
        labels = {"repository_url": "Repository URL"}
        widgets = {"github_repository": forms.HiddenInput}
        help_texts = {
            "name": "Lowercase letters, digits and hyphens; it becomes part of the service's "
                    "domain.",
            "repository_url": "An https:// git URL. You can add it later.",
        }

    def __init__(self, *args: object, environment: Environment, user: User | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.environment, self.user = environment, user
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


class CustomDomainForm(forms.Form):
    """A custom domain to add to a service (projects.custom_domains says what is refused)."""

    hostname = forms.CharField(
        label="Domain", max_length=1000, strip=True,
        error_messages={"required": "Enter a domain name."},
        widget=forms.TextInput(attrs={"placeholder": "shop.example.com"}),
        help_text="A domain you control, such as shop.example.com or example.com.")

    def __init__(self, *args: object, service: Service, workspace: object = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.service, self.allow_wildcard = service, allows_wildcards(workspace)
        if self.allow_wildcard:
            self.fields["hostname"].help_text += " Wildcards (*.example.com) are allowed."

    def clean_hostname(self) -> str:
        hostname = validate_hostname(self.cleaned_data["hostname"],
                                     allow_wildcard=self.allow_wildcard)
        available(hostname, self.service)
        return hostname


LIMIT_FIELDS = ("memory_limit_mb", "max_processes", "max_open_files", "cpu_priority")
# Left blank (or not sent, by a script), these keep their current value.
KEPT_WHEN_BLANK = (*LIMIT_FIELDS, "log_retention_days")


class ServiceSettingsForm(SourceFieldsMixin, forms.ModelForm):
    """A service's source, build and deploy settings. They apply from its next deployment;
    the deploy engine checks each again before it uses it."""

    branch = forms.CharField(max_length=255, required=False,
                             help_text="Deployed from this branch; “main” when left blank.")
    build_command = forms.CharField(
        max_length=MAX_COMMAND_LENGTH, required=False,
        help_text="Runs in the root directory after the dependencies are installed. Blank: "
                  "detected from the repository (package.json, requirements.txt, Procfile).",
    )
    start_command = forms.CharField(
        max_length=MAX_COMMAND_LENGTH, required=False,
        help_text="Starts the web process; it must listen on $PORT. Blank: detected "
                  "(Procfile web, npm start, ...).",
    )
    healthcheck_path = forms.CharField(
        max_length=MAX_HEALTHCHECK_PATH_LENGTH, required=False,
        help_text="A new deployment goes live once this path answers 2xx, e.g. /health. "
                  "Blank: once the port accepts connections.",
    )

    class Meta:
        model = Service
        fields = [
            "repository_url", "branch", "github_repository", "root_directory",
            "build_command", "build_timeout",
            "start_command", "instances", "healthcheck_path", "healthcheck_timeout",
            "restart_policy", "max_restarts", "auto_rollback",
            "memory_limit_mb", "max_processes", "max_open_files", "cpu_priority",
            "log_retention_days",
        ]
        widgets = {"github_repository": forms.HiddenInput}
        labels = {
            "memory_limit_mb": "Memory limit (MB)",
            "max_processes": "Processes and threads",
            "max_open_files": "Open files",
            "cpu_priority": "CPU niceness",
            "log_retention_days": "Keep logs for",
            "repository_url": "Repository URL",
            "github_repository": "GitHub repository",
            "healthcheck_path": "Healthcheck path",
            "healthcheck_timeout": "Healthcheck timeout (seconds)",
            "build_timeout": "Build timeout (minutes)",
            "max_restarts": "Maximum restarts",
            "auto_rollback": "Roll back automatically when a deployment crashes",
        }
        help_texts = {
            "repository_url": "An https:// git URL. Leave blank to disconnect the source.",
            "root_directory": "For monorepos: the folder of this service inside the "
                              "repository, e.g. apps/web. Blank: the repository's root.",
            "healthcheck_timeout": "How long a new deployment may take to become healthy "
                                   "(1 to 600).",
            "instances": "Processes of the web command, each on its own port (1 to 16).",
            "restart_policy": "What happens when the app's process exits.",
            "max_restarts": "With “on failure”: restarts before the process is left stopped.",
            "build_timeout": "A build that takes longer is stopped (1 to 60).",
            "auto_rollback": "The last healthy release is brought back, with no rebuild.",
        }

    def __init__(self, *args: object, user: User | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for field in KEPT_WHEN_BLANK:
            self.fields[field].required = False
        if settings.PAAS_ALLOW_LOCAL_REPOS:
            self.fields["repository_url"].help_text = (
                "An https:// git URL, or (on this host) a file:// URL or absolute path. "
                "Leave blank to disconnect the source."
            )

    def clean(self) -> dict:
        """The limits within this host's caps (PAAS_LIMIT_*), each error on its field; a limit
        left blank keeps its current value, as does the log retention."""
        cleaned = super().clean()
        for field in KEPT_WHEN_BLANK:
            if field not in self.errors and cleaned.get(field) in (None, ""):
                cleaned[field] = getattr(self.instance, field)
        caps = (("memory_limit_mb", settings.PAAS_LIMIT_MEMORY_MB, "at most {} MB"),
                ("max_processes", settings.PAAS_LIMIT_PROCESSES, "at most {}"),
                ("max_open_files", settings.PAAS_LIMIT_OPEN_FILES, "at most {}"))
        for field, cap, allowed in caps:
            value = cleaned.get(field)
            if value is not None and value > cap:
                self.add_error(field, f"This host allows {allowed.format(cap)}.")
        nice = cleaned.get("cpu_priority")
        if nice is not None and nice < settings.PAAS_LIMIT_MIN_NICE:
            self.add_error("cpu_priority",
                           f"This host allows {settings.PAAS_LIMIT_MIN_NICE} at the least.")
        return cleaned

    def clean_root_directory(self) -> str:
        root = self.cleaned_data["root_directory"]
        if root:
            validate_root_directory(root)
        return root

    def clean_build_command(self) -> str:
        command = self.cleaned_data["build_command"]
        validate_command(command)
        return command

    def clean_start_command(self) -> str:
        command = self.cleaned_data["start_command"]
        validate_command(command)
        return command

    def clean_healthcheck_path(self) -> str:
        path = self.cleaned_data["healthcheck_path"]
        if path:
            validate_healthcheck_path(path)
        return path


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
        validate_unreserved_key(key)
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
