"""What the API answers with (read-only serializers), and the shapes of the bodies it takes,
for the OpenAPI schema. The bodies are validated by the pages' own forms (api.base.validated),
so the write serializers here only describe them: their fields are the forms' fields."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Manager, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.logview import LineView
from deployments.models import Deployment, Status
from github.models import WebhookDelivery
from hosting.models import CustomDomain
from projects.custom_domains import records_of
from projects.domains import public_domain, remember_domains
from projects.forms import ProjectForm, ServiceForm, ServiceSettingsForm
from projects.models import Environment, Project, Service
from tenants.forms import WorkspaceRenameForm
from tenants.invitations import INVITABLE
from tenants.members import ASSIGNABLE
from tenants.models import Invitation, Membership, Workspace


class WorkspaceSerializer(serializers.ModelSerializer):
    hostname = serializers.CharField(read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["slug", "name", "hostname", "created_at", "role"]
        read_only_fields = fields

    def get_role(self, workspace: Workspace) -> str | None:
        membership = getattr(self.context["request"]._request, "membership", None)
        return membership.role if membership is not None else None


class WorkspaceWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = WorkspaceRenameForm._meta.fields


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = fields


class ProjectWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ProjectForm._meta.fields


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["id", "project", "name", "created_at", "copied_from", "is_preview",
                  "pull_request", "pull_request_repository", "head_branch"]
        read_only_fields = fields


class EnvironmentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    copy_of = serializers.IntegerField(help_text="id of the environment of the project to copy")


CUSTOM_HOSTNAMES = "_custom_hostnames"  # a service's custom domains, once read for a page


class ServiceListSerializer(serializers.ListSerializer):
    """A list of services, their generated and custom domains read with one query each for
    the page (else two queries per service)."""

    def to_representation(self, data: Iterable[Service]) -> list[dict]:
        services = list(data.all() if isinstance(data, Manager | QuerySet) else data)
        remember_domains(services)
        custom = CustomDomain.objects.hostnames_by_service(connection.schema_name,
                                                           [service.pk for service in services])
        for service in services:
            setattr(service, CUSTOM_HOSTNAMES, custom[service.pk])
        return super().to_representation(services)


# Fields of a service whose representation is the value read from the database (text,
# whole numbers, booleans, choices' values): ServiceSerializer writes them as they are.
SERVICE_PLAIN_FIELDS = ("name", *ServiceSettingsForm._meta.fields)
DATETIME = serializers.DateTimeField(read_only=True)  # stateless: one for every answer


class ServiceSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="environment.project_id", read_only=True)
    domains = serializers.SerializerMethodField()

    class Meta:
        model = Service
        list_serializer_class = ServiceListSerializer
        fields = ["id", "project", "environment", *SERVICE_PLAIN_FIELDS,
                  "domains", "active_deployment", "created_at"]
        read_only_fields = fields

    def get_domains(self, service: Service) -> list[str]:
        """Its generated domain first, then its custom domains."""
        custom = getattr(service, CUSTOM_HOSTNAMES, None)
        if custom is None:
            custom = CustomDomain.objects.hostnames_of(connection.schema_name, service.pk)
        return [public_domain(service), *custom]


class DnsRecordSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["CNAME", "A", "AAAA", "ALIAS"])
    name = serializers.CharField()
    value = serializers.CharField()


class CustomDomainSerializer(serializers.ModelSerializer):
    """A custom domain of a service (context: `service`), with the DNS records to create
    and what the last check found."""

    records = serializers.SerializerMethodField(
        help_text="the DNS records that send the domain to the service")

    class Meta:
        model = CustomDomain
        fields = ["hostname", "status", "found", "checked_at", "created_at", "records"]
        read_only_fields = fields

    @extend_schema_field(DnsRecordSerializer(many=True))
    def get_records(self, domain: CustomDomain) -> list[dict]:
        return [{"type": record.type, "name": record.name, "value": record.value}
                for record in records_of(self.context["service"], domain)]


class CustomDomainCreateSerializer(serializers.Serializer):
    hostname = serializers.CharField(help_text="e.g. shop.example.com (IDNs are converted to "
                                     "punycode)")

    def to_representation(self, service: Service) -> dict:
        """What ModelSerializer writes (the fields above, in their order), without building
        its 25 field objects for each answer and calling two methods of one per value (1,250
        calls for a page of 50 services): they were most of what the API added to the list's
        cost. api/tests/test_services_list.py checks the two agree."""
        row = {"id": service.pk, "project": service.environment.project_id,
               "environment": service.environment_id}
        for name in SERVICE_PLAIN_FIELDS:
            row[name] = getattr(service, name)
        row["domains"] = self.get_domains(service)
        row["active_deployment"] = service.active_deployment_id
        row["created_at"] = DATETIME.to_representation(service.created_at)
        return row


class ServiceCreateSerializer(serializers.ModelSerializer):
    environment = serializers.IntegerField(help_text="id of the environment")

    class Meta:
        model = Service
        fields = ["environment", *ServiceForm._meta.fields]


class ServiceSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ServiceSettingsForm._meta.fields
        extra_kwargs = {name: {"required": False} for name in fields}


class DeploymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Deployment
        fields = ["id", "service", "number", "status", "trigger", "triggered_by", "commit_sha",
                  "commit_message", "commit_author", "source_deployment", "runtime", "timings",
                  "error_reason", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class DeploymentCreateSerializer(serializers.Serializer):
    service = serializers.IntegerField(help_text="id of the service to deploy")


class LogLineSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    stream = serializers.CharField()
    phase = serializers.CharField()
    timestamp = serializers.CharField()
    text = serializers.CharField()
    level = serializers.CharField()


def log_line_data(line: LineView, *, with_deployment: bool = True) -> dict:
    """A log line as the API gives it, in pages (LogLineSerializer) and on its sockets."""
    data = {"sequence": line.sequence, "stream": line.stream, "phase": line.phase,
            "timestamp": line.timestamp, "text": line.text, "level": line.level}
    return {"deployment": line.deployment_id, **data} if with_deployment else data


class LogPageSerializer(serializers.Serializer):
    lines = LogLineSerializer(many=True)
    has_more = serializers.BooleanField()
    last_sequence = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class VariableSerializer(serializers.Serializer):
    key = serializers.CharField()
    updated_at = serializers.DateTimeField()
    value = serializers.CharField(required=False, help_text=(
        "only with ?reveal=true, for owners and admins (each reveal is in the audit log)"))


class VariableValueSerializer(serializers.Serializer):
    value = serializers.CharField(allow_blank=True, trim_whitespace=False)


class VariablesChangedSerializer(serializers.Serializer):
    set = serializers.ListField(child=serializers.CharField(), help_text="keys set")
    deleted = serializers.ListField(child=serializers.CharField(), help_text="keys deleted")
    applied = serializers.IntegerField(help_text="how many changes took effect")


class ResolvedVariablesSerializer(serializers.Serializer):
    service = serializers.IntegerField()
    variables = serializers.DictField(child=serializers.CharField())


class MemberSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.get_full_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "name", "email", "role", "joined_at"]
        read_only_fields = fields


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[role.value for role in ASSIGNABLE])


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True,
                                        allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = fields


class InvitationSentSerializer(InvitationSerializer):
    link = serializers.CharField(read_only=True, help_text=(
        "the link sent by email, to share another way (shown once, as on the Members page)"))

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=[role.value for role in INVITABLE], required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "received_at", "event", "action", "delivery_id", "repository",
                  "summary", "outcome", "message", "deployments", "handled_at"]
        read_only_fields = fields
