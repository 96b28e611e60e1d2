from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from rest_framework_api_key.models import AbstractAPIKey


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **fields: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **fields)


class User(AbstractUser):
    """A person on the marketplace, identified by email.

    Roles are flags, not separate accounts: a user may post jobs (requester) and work (worker) at once; the
    assignment engine keeps them off their own jobs. Admins are staff users.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    is_requester = models.BooleanField(default=False, help_text="May post and fund jobs.")
    is_worker = models.BooleanField(default=False, help_text="May take qualification tests and claim work.")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def roles(self) -> list[str]:
        flags = (("requester", self.is_requester), ("worker", self.is_worker), ("admin", self.is_staff))
        return [name for name, held in flags if held]


class Session(AbstractBaseSession):
    """A login session: Django's, with its user as a column, so that a session token's user loads with the session
    in one query (`marketplace.accounts.sessions`). Deleting a user ends their sessions."""

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    @classmethod
    def get_session_store_class(cls) -> type:
        from marketplace.accounts.sessions import SessionStore

        return SessionStore


class ApiKeyScope(models.TextChoices):
    """What a key may change; every key may read what its user may read. See `marketplace.accounts.api_keys`."""

    JOBS = "jobs", "Jobs and uploads: create, edit, upload, launch, pause, cancel; webhooks, blocks, qualifications"
    MONEY = "money", "Money: deposit, review (approve or reject pays or refunds), bonuses"


class ApiKey(AbstractAPIKey):
    """A named, revocable key a requester's scripts send as `Authorization: Api-Key <prefix>.<secret>`.

    Only a SHA-512 hash of the key is stored (djangorestframework-api-key): the key is shown once, at creation, and
    its `prefix` identifies it afterwards. A key acts as its user, within its scopes (read-only without any).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    scopes = models.JSONField(default=list, blank=True, help_text="Subset of ['jobs', 'money']; [] is read-only.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked=False, revoked_at__isnull=True)
                | models.Q(revoked=True, revoked_at__isnull=False),
                name="api_key_revoked_when",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class OrganisationRole(models.TextChoices):
    """What a member may do for an organisation (`marketplace.accounts.organisations`)."""

    OWNER = "owner", "Owner: everything a manager does, and adds, changes and removes members"
    MANAGER = "manager", "Manager: creates, funds, launches and reviews jobs; webhooks, blocks and API keys"
    VIEWER = "viewer", "Viewer: sees the jobs, results, money and settings; changes nothing"


class Organisation(models.Model):
    """A team of requesters. Its jobs, balance, webhooks and API keys belong to its `account`, a user of its own
    that nobody signs in as: members act for it (the `X-Organisation` header), each within their role. A requester
    acting for themselves acts for their personal account, as before organisations existed."""

    account = models.OneToOneField(User, on_delete=models.PROTECT, related_name="organisation")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=OrganisationRole.choices)
    added_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_once"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "manager", "viewer"]), name="membership_role_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.organisation}"
