"""Settings: one frozen object built from `$ARCHIVER_HOME/archiver.toml` and `ARCHIVER_*`.

Only entry points (CLI, WSGI, worker) call `load_settings`; everything else receives the
Settings object. An environment variable `ARCHIVER_<SECTION>_<KEY>` overrides
`[section] key` in the TOML file; for secrets, `ARCHIVER_<SECTION>_<KEY>_FILE` names a
file holding the value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

CONFIG_FILE = "archiver.toml"
SECRET_KEYS = frozenset({"secret_key", "access_key", "password", "meta_app_secret",
                         "meta_verify_token", "session_secret", "oidc_client_secret",
                         "smtp_password", "webhook_secret"})


@dataclass(frozen=True)
class CatalogSettings:
    url: str = ""  # empty: SQLite at $ARCHIVER_HOME/catalog.sqlite


@dataclass(frozen=True)
class StoreSettings:
    kind: str = "filesystem"  # filesystem | s3
    path: str = ""  # filesystem root; empty: $ARCHIVER_HOME/objects
    endpoint_url: str = ""
    bucket: str = ""
    prefix: str = ""
    region: str = "us-east-1"
    access_key: str = ""
    secret_key: str = ""
    lock_days: int = 1  # COMPLIANCE retention floor when the bucket has Object Lock


@dataclass(frozen=True)
class LogSettings:
    segment_max_records: int = 1000
    segment_max_bytes: int = 4_000_000
    flush_delay_ms: int = 20


@dataclass(frozen=True)
class CaptureSettings:
    max_text_bytes: int = 100_000
    backfill_hours: int = 72  # first seen this long after publication -> `observed`


@dataclass(frozen=True)
class KeySettings:
    kek_file: str = ""  # empty: $ARCHIVER_HOME/keys/kek.json
    signing_key: str = ""  # empty: $ARCHIVER_HOME/keys/signing.json
    fingerprint_key: str = ""  # empty: $ARCHIVER_HOME/keys/fingerprint.key


@dataclass(frozen=True)
class ApiSettings:
    max_body_bytes: int = 16_000_000  # larger request bodies are refused with 413
    proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-For is trusted


@dataclass(frozen=True)
class SearchSettings:
    engine: str = "whoosh"  # whoosh (files under $ARCHIVER_HOME/index) | postgres (the catalog)


SEARCH_ENGINES = ("whoosh", "postgres")


@dataclass(frozen=True)
class WebhookSettings:
    meta_app_secret: str = ""    # Meta app secret: checks X-Hub-Signature-256 of deliveries
    meta_verify_token: str = ""  # the token Meta's subscription check must present


@dataclass(frozen=True)
class WebSettings:
    """The web interface (archiver/web, docs/web.md)."""

    # Signs the session cookie. Empty: generated once into $ARCHIVER_HOME/keys (0600) for
    # an embedded archive; an archive on S3 or PostgreSQL refuses to start the web UI.
    session_secret: str = ""
    session_hours: int = 12
    cookie_secure: int = 0  # 1: the session cookie is sent over HTTPS only
    oidc_issuer: str = ""  # empty: no single sign-on, API tokens only
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid email profile"
    oidc_name_claim: str = "email"
    oidc_role_claim: str = "groups"  # a string or a list of strings in the ID token
    oidc_roles: str = ""  # claim value -> role: "archive-admins=admin,legal-team=legal"

@dataclass(frozen=True)
class AlertSettings:
    """Alert delivery (archiver/alerts, docs/public-records.md) and redaction codes."""

    smtp_host: str = ""  # empty: email channels are refused when a rule is created
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: int = 0  # 1: STARTTLS before signing in
    webhook_secret: str = ""  # signs webhook bodies: X-Archiver-Signature: sha256=<hex>
    webhook_retries: int = 3
    exemptions_file: str = ""  # empty: the shipped list (archiver/redaction/exemptions.json)


@dataclass(frozen=True)
class PortalSettings:
    """The public archive portal under /public (archiver/web/portal.py): off by default."""

    enabled: int = 0
    accounts: str = ""  # the accounts shown: "mastodon:42, bluesky:did:plc:..." (none: none)
    comments: int = 0  # 1: comments and replies are shown under posts
    hide_commenter_names: int = 1  # standing rule: commenters' names and handles withheld
    public_holds: str = ""  # ids of holds whose records may be shown; every other hides
    rate_per_minute: int = 60  # requests per client address (token bucket); 0: no limit


_SECTIONS: dict[str, type] = {
    "catalog": CatalogSettings,
    "store": StoreSettings,
    "log": LogSettings,
    "capture": CaptureSettings,
    "keys": KeySettings,
    "api": ApiSettings,
    "search": SearchSettings,
    "webhooks": WebhookSettings,
    "web": WebSettings,
    "alerts": AlertSettings,
    "portal": PortalSettings,
}


@dataclass(frozen=True)
class Settings:
    home: Path
    catalog: CatalogSettings
    store: StoreSettings
    log: LogSettings
    capture: CaptureSettings
    keys: KeySettings
    api: ApiSettings = ApiSettings()
    search: SearchSettings = SearchSettings()
    webhooks: WebhookSettings = WebhookSettings()
    web: WebSettings = WebSettings()
    alerts: AlertSettings = AlertSettings()
    portal: PortalSettings = PortalSettings()

    @property
    def catalog_url(self) -> str:
        return self.catalog.url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    @property
    def objects_dir(self) -> Path:
        return Path(self.store.path) if self.store.path else self.home / "objects"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    def _key_path(self, value: str, default: str) -> Path:
        return Path(value) if value else self.home / "keys" / default

    @property
    def kek_path(self) -> Path:
        return self._key_path(self.keys.kek_file, "kek.json")

    @property
    def signing_key_path(self) -> Path:
        return self._key_path(self.keys.signing_key, "signing.json")

    @property
    def fingerprint_key_path(self) -> Path:
        return self._key_path(self.keys.fingerprint_key, "fingerprint.key")

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret replaced, for `archiver config show`."""
        out: dict[str, Any] = {"home": str(self.home), "catalog_url": _mask_url(self.catalog_url)}
        for name in _SECTIONS:
            section = asdict(getattr(self, name))
            for k, v in section.items():
                if k in SECRET_KEYS and v:
                    section[k] = "********"
                elif k == "url" and v:
                    section[k] = _mask_url(v)
            out[name] = section
        return out


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if sep and at and ":" in creds:
        return f"{scheme}://{creds.split(':')[0]}:********@{host}"
    return url


def _coerce(section: str, key: str, value: Any, typ: type) -> Any:
    if typ is int or typ == "int":
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[{section}] {key} must be an integer, got {value!r}") from None
        if v < 0:
            raise ConfigError(f"[{section}] {key} must not be negative")
        return v
    if not isinstance(value, str):
        raise ConfigError(f"[{section}] {key} must be a string")
    return value


def load_settings(home: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the TOML file in the archive's home and the environment."""
    env = os.environ if env is None else env
    home_path = Path(home or env.get("ARCHIVER_HOME") or "./var").absolute()
    doc: dict[str, Any] = {}
    cfg = home_path / CONFIG_FILE
    if cfg.exists():
        try:
            doc = tomllib.loads(cfg.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg}: {exc}") from None
    unknown = set(doc) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{cfg}: unknown section(s) {sorted(unknown)}")
    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        given = doc.get(section, {})
        names = {f.name: f.type for f in fields(cls)}
        extra = set(given) - set(names)
        if extra:
            raise ConfigError(f"{cfg}: unknown key(s) in [{section}]: {sorted(extra)}")
        values: dict[str, Any] = {}
        for name, typ in names.items():
            var = f"ARCHIVER_{section.upper()}_{name.upper()}"
            if var in env:
                raw: Any = env[var]
            elif f"{var}_FILE" in env:
                try:
                    raw = Path(env[f"{var}_FILE"]).read_text().strip()
                except OSError as exc:
                    raise ConfigError(f"{var}_FILE: {exc.strerror}") from None
            elif name in given:
                raw = given[name]
            else:
                continue
            values[name] = _coerce(section, name, raw, int if typ in (int, "int") else str)
        built[section] = cls(**values)
    settings = Settings(home=home_path, **built)
    if settings.store.kind not in ("filesystem", "s3"):
        raise ConfigError(f"[store] kind must be 'filesystem' or 's3', not {settings.store.kind!r}")
    if settings.store.kind == "s3" and not settings.store.bucket:
        raise ConfigError("[store] bucket is required when kind = 's3'")
    if settings.log.segment_max_records < 1:
        raise ConfigError("[log] segment_max_records must be at least 1")
    if settings.search.engine not in SEARCH_ENGINES:
        raise ConfigError(f"[search] engine must be 'whoosh' or 'postgres', not "
                          f"{settings.search.engine!r}")
    if settings.search.engine == "postgres" and not settings.catalog_url.startswith("postgresql"):
        raise ConfigError("[search] engine = 'postgres' needs a PostgreSQL catalog ([catalog] "
                          "url = 'postgresql://...'); this archive's catalog is "
                          f"{settings.catalog_url.split(':', 1)[0]}")
    return settings


def render_toml(values: Mapping[str, Mapping[str, Any]]) -> str:
    """A minimal TOML writer for the config file `archiver init` creates."""
    lines = []
    for section, items in values.items():
        lines.append(f"[{section}]")
        for k, v in items.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, int):
                lines.append(f"{k} = {v}")
            else:
                escaped = str(v).replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{k} = "{escaped}"')
        lines.append("")
    return "\n".join(lines)
