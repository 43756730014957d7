"""Configuration: one pydantic-settings class, prefix ``DOCMGMT_``."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """Where the system runs: development allows built-in secrets, production refuses them."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting of the system, read from ``DOCMGMT_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DOCMGMT_", env_file=None, extra="ignore")

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("var")

    # PostgreSQL: no URL means the embedded server (pgserver) in data_dir/pgdata.
    database_url: SecretStr | None = None
    migration_database_url: SecretStr | None = None
    db_schema: str = "docmgmt"
    db_app_role: str = "docmgmt_app"
    db_pool_size: int = 10

    # Object storage.
    storage_backend: Literal["filesystem", "s3"] = "filesystem"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "docmgmt"
    s3_secure: bool = False
    s3_region: str | None = None
    s3_retention_days: int = 0
    s3_retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"

    # Uploads.
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, gt=0)

    # Authentication.
    # No secret in development: a random one per data folder (docmgmt/identity/secrets.py).
    jwt_secret: SecretStr | None = None
    jwt_ttl_minutes: int = 480
    jwt_issuer: str = "docmgmt"
    # Login throttling: this many failures within the window lock the account (or the
    # client address) for the lock-out; the record of failures keeps at most this many rows.
    login_max_failures_per_account: int = Field(default=10, gt=0)
    login_max_failures_per_address: int = Field(default=100, gt=0)
    login_failure_window_seconds: int = Field(default=60, gt=0)
    login_lockout_seconds: int = Field(default=60, gt=0)
    login_failures_keep: int = Field(default=100_000, gt=0)
    login_failures_keep_days: int = Field(default=90, gt=0)

    # --- Single sign-on (OpenID Connect) ----------------------------------------------
    # The provider is found by discovery at <issuer>/.well-known/openid-configuration; no
    # issuer means no single sign-on. The client is registered at the provider with the
    # redirect URI <docmgmt>/app/login/sso/callback and the post-logout URI <docmgmt>/app/login.
    oidc_issuer: str | None = None
    oidc_client_id: str = "docmgmt"
    oidc_client_secret: SecretStr | None = None  # none: a public client (PKCE alone)
    # The claim whose value is a docmgmt username (compared after the same normalisation).
    # "preferred_username" is Keycloak's login name; "email" or "upn" (Entra ID) fit when
    # the usernames are those; "sub" only if accounts were created with the provider's ids.
    oidc_username_claim: str = "preferred_username"
    oidc_scopes: str = "openid profile email"
    oidc_leeway_seconds: int = Field(default=60, ge=0)  # clock skew allowed on exp/iat
    # False: the password form and POST /auth/token refuse; only single sign-on signs in.
    local_passwords: bool = True

    @field_validator("oidc_issuer", "oidc_client_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # docker-compose passes an unset variable as "": no single sign-on, no secret.
        return None if value == "" else value

    @model_validator(mode="after")
    def _someone_can_sign_in(self) -> Settings:
        if not self.local_passwords and self.oidc_issuer is None:
            raise ValueError("DOCMGMT_LOCAL_PASSWORDS=false needs DOCMGMT_OIDC_ISSUER: "
                             "nobody could sign in")
        if (self.mode is Mode.PRODUCTION and self.oidc_issuer is not None
                and not self.oidc_issuer.startswith("https://")):
            raise ValueError("DOCMGMT_OIDC_ISSUER must be an https:// address in production")
        return self

    # --- end of single sign-on -------------------------------------------------------

    # Signing.
    pades_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = "B-LT"
    keys_file: Path | None = None  # production keys and trust (see signing/keysfile.py)

    # Ledger checkpoints while the app runs.
    checkpoint_every_events: int = Field(default=1000, gt=0)
    checkpoint_every_seconds: float = Field(default=300.0, gt=0)

    # Read side.
    run_projections: bool = True
    read_your_writes_timeout: float = 5.0

    # HTTP.
    host: str = "127.0.0.1"
    port: int = 8000

    # Webhook targets: loopback, private, link-local, multicast and reserved addresses are
    # refused unless named here (JSON lists: host names, and networks in CIDR form).
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_allowed_networks: list[str] = Field(default_factory=list)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network.strip(), strict=False)  # ValueError names it
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.mode is Mode.PRODUCTION:
            if self.jwt_secret is None:
                raise ValueError("DOCMGMT_JWT_SECRET must be set in production mode")
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("DOCMGMT_JWT_SECRET must be at least 32 characters")
            if self.database_url is None:
                raise ValueError("DOCMGMT_DATABASE_URL must be set in production mode")
            if self.keys_file is None:
                raise ValueError("DOCMGMT_KEYS_FILE must be set in production mode "
                                 "(the development PKI is for development only)")
        return self

    @property
    def pgdata(self) -> Path:
        """Folder of the embedded PostgreSQL cluster."""
        return self.data_dir.resolve() / "pgdata"

    @property
    def blob_dir(self) -> Path:
        """Folder of the local filesystem object store."""
        return self.data_dir.resolve() / "blobs"

    @property
    def pki_dir(self) -> Path:
        """Folder of the development PKI (one sub-folder per agency)."""
        return self.data_dir.resolve() / "pki"

    @property
    def spool_dir(self) -> Path:
        """Folder for uploads in flight (same filesystem as the blob store)."""
        return self.data_dir.resolve() / "spool"
