"""The one settings object. Every knob is an environment variable with the ``PUSHSVC_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MLIT_BOUNDARY_CREDIT = "「国土数値情報（行政区域データ）」（国土交通省）を加工して作成"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PUSHSVC_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./pushsvc.db",
        description="SQLAlchemy URL. SQLite file (embedded default) or postgresql+psycopg://… (PostGIS).",
    )
    prefecture: str = Field(default="39", description="Two-digit prefecture code served (39 = Kochi).")
    boundaries: Path | None = Field(
        default=None,
        description="MLIT N03 GeoJSON or zip loaded at start when the boundary table is empty.",
    )
    coastal_tolerance_m: float = Field(
        default=2000.0,
        ge=0,
        description="A point outside every municipality but this close to one resolves to it as 'coastal'.",
    )
    vapid_key_file: Path = Field(
        default=Path("./pushsvc-vapid.pem"),
        description="VAPID P-256 private key (PEM, mode 0600), created on first start.",
    )
    vapid_private_key: SecretStr | None = Field(
        default=None, description="VAPID private key given directly (PEM or raw base64url); wins over the file."
    )
    vapid_subject: str | None = Field(
        default=None,
        description="VAPID 'sub' claim: a real mailto: or https: contact (Apple rejects others). Needed to send.",
    )
    push_allowed_hosts: str = Field(
        default="fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com",
        description="Comma-separated push-service hosts subscriptions may point at ('*.' = any subdomain).",
    )
    current_location_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="A resident's current location is forgotten this long after it was last sent.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where residents reach this server (alert links)."
    )
    # 500 rather than 250: claiming, fetching and recording a batch cost a worker the same per batch,
    # ~60 µs of its CPU per recipient at 250 and ~20 at 1,000 (one worker, 20,000 recipients, on
    # PostgreSQL). Not 1,000: a killed worker's batch, sent again, is that many duplicates (Topic collapses
    # them), and the issue asks for "a few hundred".
    delivery_batch_size: int = Field(default=500, ge=1, le=5000, description="Recipients per leased batch.")
    delivery_backoff_base_s: float = Field(default=2.0, gt=0, description="First retry delay; doubles per try.")
    worker_concurrency: int = Field(default=4, ge=1, description="Batches one worker sends at once.")
    worker_lease_s: float = Field(
        default=10.0,
        gt=0,
        description="A dead worker's batch is retaken after this "
        "(renewed every third of it while the batch is in flight).",
    )
    worker_poll_s: float = Field(default=0.2, gt=0, description="How often an idle worker looks for work.")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bootstrap token for the notifications API until operators exist; unset = API closed.",
    )
    max_body_bytes: int = Field(default=65536, gt=0, description="Requests with larger bodies get 413.")
    operator_rate_limit_per_minute: int = Field(
        default=60, ge=1, description="Requests one operator token may make per minute (per API process)."
    )
    operator_login_failures_per_minute: int = Field(
        default=10, ge=1, description="Failed operator-token attempts per client address per minute (429 beyond)."
    )
    operator_approval_window_s: int = Field(
        default=600, ge=0, description="Sliding window in which one operator's reach is added up for approval."
    )
    operator_approval_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the prefecture's residents or municipalities that one operator "
        "may reach within the window without a second operator's approval.",
    )
    operator_approval_min_residents: int = Field(
        default=100,
        ge=0,
        description="Below this many subscribed residents only the municipality share decides "
        "approval (a share of a handful of residents means nothing).",
    )
    operator_approval_timeout_s: int = Field(
        default=900,
        ge=60,
        description="An emergency or prefecture-wide message not approved within this expires unsent.",
    )
    evacuation_single_issuer: str = Field(
        default="",
        description="Municipalities that let one operator issue 避難情報 up to a level, at JST hours: "
        "'39201=4@22:00-06:00;39204=5' (no hours = always). Others need a second operator for Lv4+.",
    )
    evacuation_cap_sources: str = Field(
        default="",
        description="Operator accounts allowed to post 避難情報 as CAP, each bound to its CAP <sender>: "
        "'kochi-saigai-system=bousai.pref.kochi.lg.jp'.",
    )
    log_level: str = Field(default="INFO")
    push_timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout talking to a push service.")
    push_per_origin_concurrency: int = Field(
        default=256,
        gt=0,
        description="The most requests in flight at once to one push service (per worker process); a worker "
        "starts at 64 and goes up while the service is slow to answer and the worker waits for it (webpush/slots.py).",
    )
    push_client: Literal["stream", "aiohttp", "httpx"] = Field(
        default="stream",
        description="HTTP client for push services: the lean keep-alive client, or aiohttp/httpx as a fallback.",
    )
    push_max_rate_limit_wait_s: float = Field(
        default=1.0,
        ge=0,
        description="After a 429, wait this long at most in-line; longer pauses go back to the worker to retry.",
    )
    feeds_file: Path | None = Field(
        default=None, description="TOML list of feed sources to poll (river levels, JMA Atom feeds); unset = none."
    )
    jma_codes_dir: Path = Field(
        default=Path("../shared/samples/jma/codes"),
        description="Directory with the JMA code tables (*area_codes.csv, *other_codes.csv) of the prefecture.",
    )
    nankai_config_file: Path | None = Field(
        default=None,
        description="TOML: 南海トラフ 推進地域 (default: all towns) and 事前避難対象地域 by town.",
    )
    jma_push_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Largest raw JMA telegram the push-in endpoint accepts.",
    )
    feed_unhealthy_after_s: float = Field(
        default=1800.0, gt=0, description="A feed source without a successful poll for this long is unhealthy."
    )
    feed_max_backoff_s: float = Field(
        default=3600.0, gt=0, description="Longest wait between polls of a failing feed source (backoff cap)."
    )

    housekeeping_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often each worker deletes expired current locations and rolls up old KPI events; 0 = off.",
    )
    river_readings_retention_h: float = Field(
        default=48.0, gt=0, description="Gauge readings kept for the portal's charts; older ones are deleted."
    )
    portal_river_history_h: float = Field(
        default=6.0, gt=0, le=48, description="Hours of gauge readings the portal returns for each chart."
    )
    kpi_raw_retention_days: int = Field(
        default=90, ge=1, le=3660, description="Raw KPI events older than this are rolled up into daily counts."
    )
    kpi_fy_targets: str = Field(
        default="R2=8000,R3=10000,R4=12000,R5=14000",
        description="Users targets per fiscal year (R6 / FY2024 / 2024 = count), comma-separated.",
    )
    kpi_events_per_minute: int = Field(
        default=60, ge=1, description="KPI events accepted per client address per minute (in memory only)."
    )

    data_dir: Path = Field(
        default=Path("./var/data"),
        description="Where `pushsvc data fetch` puts the data files (laid out like ../shared).",
    )
    data_base_url: str | None = Field(
        default=None,
        description="A mirror of the data files (paths as in the manifest) for `pushsvc data fetch`.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires; unset = /metrics answers loopback clients only.",
    )
    metrics_cache_s: float = Field(
        default=15.0,
        ge=0,
        description="Database aggregates behind /metrics are recomputed at most this often.",
    )

    @field_validator("prefecture")
    @classmethod
    def _two_digits(cls, v: str) -> str:
        if not (len(v) == 2 and v.isdigit() and 1 <= int(v) <= 47):
            raise ValueError("prefecture must be a two-digit JIS code 01–47")
        return v

    @field_validator("vapid_subject")
    @classmethod
    def _real_subject(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not (v.startswith("mailto:") and "@" in v) and not v.startswith("https://"):
            raise ValueError("vapid_subject must be a mailto: address or an https: URL")
        if v.endswith(("@example.com", "@localhost")) or v in {"mailto:", "https://"}:
            raise ValueError("vapid_subject is a placeholder; push services reject it: give a real contact")
        return v

    @property
    def allowed_push_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.push_allowed_hosts.split(",") if h.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
