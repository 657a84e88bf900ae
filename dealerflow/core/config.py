"""Settings read once from the environment and validated, naming the variable at fault."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    pass


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected an integer") from None


def _positive(env: dict, name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name}={value}: expected a positive integer")
    return value


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected 1 or 0")


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _duration(env: dict, name: str, default: int) -> int:
    """A duration like 7d, 36h, 90m or 30s, in seconds."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    number, unit = raw[:-1], raw[-1:]
    if unit not in _UNITS or not number.isdigit() or int(number) < 1:
        raise ConfigError(f"{name}={raw!r}: expected a duration like 7d, 36h, 90m or 30s")
    return int(number) * _UNITS[unit]


def _secrets(env: dict, name: str) -> dict:
    """`provider=secret` pairs separated by commas."""
    out = {}
    for pair in filter(None, (p.strip() for p in (env.get(name) or "").split(","))):
        provider, sep, secret = pair.partition("=")
        if not sep or not provider.strip() or not secret.strip():
            raise ConfigError(f"{name}: expected provider=secret pairs separated by commas, got {pair!r}")
        out[provider.strip()] = secret.strip()
    return out


@dataclass(frozen=True)
class Settings:
    # None means "start the embedded server" (dealerflow dev / tests); production sets both.
    database_url: str | None
    temporal_address: str | None
    temporal_namespace: str = "default"
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    task_queue: str = "dealerflow"
    secret_key: str = ""
    token_minutes: int = 12 * 60
    # Set the console cookies `Secure` (only sent over HTTPS) and send HSTS: on behind HTTPS, off for the local demo.
    secure_cookies: bool = False
    # Login throttling: failed logins counted per account and per client address over a sliding window.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_window_minutes: int = 15
    data_dir: Path = ROOT / ".data"
    rules_dir: Path = ROOT / "rules"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    evidence_dir: Path | None = None  # default: <data_dir>/evidence
    notify_webhook_url: str | None = None  # a WeCom/DingTalk/SMS gateway; None: in-app inbox only
    notify_webhook_token: str | None = None
    # Logistics: the secret each tracking provider signs its pushes with (provider → secret; a provider
    # without one has every push refused); how long after signing a parcel's receipt confirms itself;
    # whether the dealer's receipt (rather than recording a delivery) books the order to its account.
    logistics_secrets: dict = field(default_factory=dict)
    receipt_auto_confirm_seconds: int = 7 * 86400
    receipt_completes_delivery: bool = False
    # Four eyes on rule files: a person's deploy is a proposal a second person approves (see
    # dealerflow/governance/proposals.py). Off only for a test bed that deploys its fixtures directly.
    rules_four_eyes: bool = True
    # Channels people in China use (dealerflow/shared/channels.py); each is off unless configured.
    notify_wecom_url: str | None = None  # a WeCom group robot's webhook (…/webhook/send?key=…)
    notify_dingtalk_url: str | None = None  # a DingTalk robot's webhook (…/robot/send?access_token=…)
    notify_dingtalk_secret: str | None = None  # its signing secret (SEC…)
    notify_sms_url: str | None = None  # an SMS gateway taking {"phone", "text", "sign"}
    notify_sms_token: str | None = None
    public_url: str = ""  # the console's address, for links in robot messages
    # WeCom application messages (企业微信应用消息) to a person's WeCom userid: the corp's id, the
    # application's secret and agent id; the API's address is only changed by tests.
    notify_wecom_corp_id: str | None = None
    notify_wecom_corp_secret: str | None = None
    notify_wecom_agent_id: int | None = None
    notify_wecom_api_url: str = "https://qyapi.weixin.qq.com"

    @property
    def evidence_path(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("DEALERFLOW_DATA_DIR") or ROOT / ".data")
        tls = [env.get(k) or None for k in ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")]
        if any(tls) and not all(tls):
            raise ConfigError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
        url = env.get("DATABASE_URL") or None
        if url and not url.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
            raise ConfigError(f"DATABASE_URL={url!r}: expected a postgresql:// URL")
        webhook = env.get("DEALERFLOW_NOTIFY_WEBHOOK_URL") or None
        if webhook and not webhook.startswith(("http://", "https://")):
            raise ConfigError(f"DEALERFLOW_NOTIFY_WEBHOOK_URL={webhook!r}: expected an http(s):// URL")
        return cls(
            database_url=url,
            temporal_address=env.get("TEMPORAL_ADDRESS") or None,
            temporal_namespace=env.get("TEMPORAL_NAMESPACE") or "default",
            temporal_tls_cert=tls[0],
            temporal_tls_key=tls[1],
            temporal_tls_ca=env.get("TEMPORAL_TLS_CA") or None,
            task_queue=env.get("DEALERFLOW_TASK_QUEUE") or "dealerflow",
            secret_key=env.get("DEALERFLOW_SECRET_KEY") or _dev_secret(data_dir),
            token_minutes=_positive(env, "DEALERFLOW_TOKEN_MINUTES", 12 * 60),
            secure_cookies=_bool(env, "DEALERFLOW_SECURE_COOKIES", False),
            login_failures_per_account=_positive(env, "DEALERFLOW_LOGIN_FAILURES_PER_ACCOUNT", 5),
            login_failures_per_address=_positive(env, "DEALERFLOW_LOGIN_FAILURES_PER_ADDRESS", 20),
            login_window_minutes=_positive(env, "DEALERFLOW_LOGIN_WINDOW_MINUTES", 15),
            data_dir=data_dir,
            rules_dir=Path(env.get("DEALERFLOW_RULES_DIR") or ROOT / "rules"),
            api_host=env.get("DEALERFLOW_API_HOST") or "127.0.0.1",
            api_port=_int(env, "DEALERFLOW_API_PORT", 8000),
            temporal_port=_int(env, "DEALERFLOW_TEMPORAL_PORT", 7233),
            temporal_ui_port=_int(env, "DEALERFLOW_TEMPORAL_UI_PORT", 8233),
            evidence_dir=Path(env["DEALERFLOW_EVIDENCE_DIR"]) if env.get("DEALERFLOW_EVIDENCE_DIR") else None,
            notify_webhook_url=webhook,
            notify_webhook_token=env.get("DEALERFLOW_NOTIFY_WEBHOOK_TOKEN") or None,
            logistics_secrets=_secrets(env, "DEALERFLOW_LOGISTICS_SECRETS"),
            receipt_auto_confirm_seconds=_duration(env, "DEALERFLOW_RECEIPT_AUTO_CONFIRM", 7 * 86400),
            receipt_completes_delivery=_bool(env, "DEALERFLOW_RECEIPT_COMPLETES_DELIVERY", False),
            rules_four_eyes=_bool(env, "DEALERFLOW_RULES_FOUR_EYES", True),
            notify_wecom_url=env.get("DEALERFLOW_NOTIFY_WECOM_URL") or None,
            notify_dingtalk_url=env.get("DEALERFLOW_NOTIFY_DINGTALK_URL") or None,
            notify_dingtalk_secret=env.get("DEALERFLOW_NOTIFY_DINGTALK_SECRET") or None,
            notify_sms_url=env.get("DEALERFLOW_NOTIFY_SMS_URL") or None,
            notify_sms_token=env.get("DEALERFLOW_NOTIFY_SMS_TOKEN") or None,
            public_url=env.get("DEALERFLOW_PUBLIC_URL") or "",
            notify_wecom_corp_id=env.get("DEALERFLOW_NOTIFY_WECOM_CORP_ID") or None,
            notify_wecom_corp_secret=env.get("DEALERFLOW_NOTIFY_WECOM_CORP_SECRET") or None,
            notify_wecom_agent_id=(_int(env, "DEALERFLOW_NOTIFY_WECOM_AGENT_ID", 0)
                                   if env.get("DEALERFLOW_NOTIFY_WECOM_AGENT_ID") else None),
            notify_wecom_api_url=env.get("DEALERFLOW_NOTIFY_WECOM_API_URL") or "https://qyapi.weixin.qq.com",
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _dev_secret(data_dir: Path) -> str:
    """A per-installation signing key kept in the data dir, so every API process on this
    machine accepts the same tokens. Production sets DEALERFLOW_SECRET_KEY."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
