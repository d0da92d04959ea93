"""Delivery channels behind one small interface: email (SMTP or .eml files), webhooks, group robots, inbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from notifications.message import Message


class DeliveryError(Exception):
    """A channel could not deliver; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Channel(Protocol):
    """Something that delivers a rendered message to one person."""

    name: str

    def reaches(self, message: Message) -> bool:
        """True when the recipient can be reached this way."""
        ...

    def send(self, message: Message) -> str:
        """Deliver; returns a reference (Message-ID, HTTP status...). Raises DeliveryError."""
        ...


def message_id(key: str, domain: str) -> str:
    """A stable Message-ID from the idempotency key, so a resend is recognisably the same message."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def mailbox(name: str, address: str) -> Address:
    """A mailbox an SMTP message can carry, its domain in IDNA; a permanent DeliveryError when there is none.

    The reference loader accepts any ``local@domain.tld``. A Chinese domain is sent as its IDNA (``xn--``) form,
    which every mail server takes. A non-ASCII local part needs SMTPUTF8 in the server and an internationalised
    To: header, which this channel does not write: no retry can send it, so it fails for good, saying why.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise DeliveryError(f"the address {address!r} is not local@domain", permanent=True)
    if not local.isascii():
        raise DeliveryError(
            f"the address {address!r} has a non-ASCII local part, which this channel cannot send (it needs SMTPUTF8)",
            permanent=True,
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise DeliveryError(
                f"the address {address!r} has a domain IDNA cannot encode: {exc}", permanent=True
            ) from exc
    try:
        return Address(name, addr_spec=f"{local}@{domain}")
    except (ValueError, TypeError, IndexError, MessageError) as exc:
        raise DeliveryError(
            f"the address {address!r} cannot be written in an email header: {exc}", permanent=True
        ) from exc


def build_email(message: Message, sender: str, domain: str) -> EmailMessage:
    """A multipart plain + HTML email with properly encoded UTF-8 subject and names.

    Raises a DeliveryError when an address cannot be carried: permanent for the recipient's, temporary for the
    configured sender's.
    """
    email = EmailMessage()
    email["Subject"] = message.subject
    sender_name, _, sender_addr = sender.rpartition("<")
    try:
        if sender_addr:
            email["From"] = mailbox(sender_name.strip().strip('"'), sender_addr.rstrip(">").strip())
        else:
            email["From"] = sender
    except (DeliveryError, ValueError, TypeError, IndexError, MessageError) as exc:
        # The sender is configuration, not the row: temporary, so the rows wait while an operator mends it.
        raise DeliveryError(f"the sender {sender!r} (RIVERCHIEF_MAIL_FROM) cannot be used: {exc}") from exc
    email["To"] = mailbox(message.recipient_name, message.email or "")
    email["Message-ID"] = message_id(f"{message.key}:email", domain)
    email["Date"] = format_datetime(message.occurred_at)
    email["X-Riverchief-Key"] = message.key
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    for attached in message.attachments:
        maintype, _, rest = attached.content_type.partition("/")
        subtype, *params = (part.strip() for part in rest.split(";"))
        email.add_attachment(
            attached.content,
            maintype=maintype,
            subtype=subtype,
            filename=attached.filename,
            params=dict(p.split("=", 1) for p in params if "=" in p),
        )
    return email


@dataclass
class SmtpSettings:
    """How to reach the mail server."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = None
    sender: str = "河长制跨界协作 <noreply@localhost>"
    timeout: float = 15.0


class SmtpChannel:
    """Email over SMTP (STARTTLS or TLS, with login when configured)."""

    name = "email"

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.domain = settings.sender.rsplit("@", 1)[-1].rstrip(">") or "localhost"
        self.ssl_context = ssl_context or ssl.create_default_context()

    def reaches(self, message: Message) -> bool:
        """People with an email address."""
        return bool(message.email)

    def send(self, message: Message) -> str:
        """Send one email; connection problems and 4xx are temporary, 5xx refusals permanent.

        Once the server has accepted the message it is delivered, whatever becomes of the goodbye: a QUIT that
        fails (a server shutting down answers 421, or is gone) must not send the email again.
        """
        s = self.settings
        email = build_email(message, s.sender, self.domain)
        try:
            smtp = self._open()
            try:
                smtp.send_message(email)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP refused the recipient: {exc.recipients!r}", permanent=all(code >= 500 for code in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP unreachable: {exc}") from exc
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
        return str(email["Message-ID"])

    def _open(self) -> smtplib.SMTP:
        """A connection ready for MAIL FROM: secured and logged in as configured."""
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self.ssl_context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.security == "starttls":
                smtp.starttls(context=self.ssl_context)
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp


class EmlChannel:
    """The embedded default with no mail server: each email written as an .eml file in the data folder."""

    name = "email"

    def __init__(self, folder: Path, sender: str = "河长制跨界协作 <noreply@localhost>") -> None:
        self.folder = folder
        self.sender = sender

    def reaches(self, message: Message) -> bool:
        """People with an email address."""
        return bool(message.email)

    def send(self, message: Message) -> str:
        """Write the file (named by the idempotency key, so a resend overwrites, never duplicates)."""
        email = build_email(message, self.sender, "localhost")
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(f"{message.key}:email".encode()).hexdigest()[:16]
        path = self.folder / f"{message.occurred_at:%Y%m%d}-{message.issue_code or message.kind}-{name}.eml"
        path.write_bytes(bytes(email))
        return str(path.name)


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    try:
        response = client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
    except httpx.HTTPError as exc:
        raise DeliveryError(f"POST {urllib.parse.urlsplit(url).netloc}: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise DeliveryError(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
    return response


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp.body``, hex: what a receiver recomputes to trust the call."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """A generic JSON POST signed with HMAC-SHA256 over timestamp and body."""

    name = "webhook"

    def __init__(self, secret: str, *, client: httpx.Client | None = None, clock: Any = time.time) -> None:
        self.secret = secret
        self.client = client or httpx.Client(timeout=10.0, follow_redirects=False)
        self.clock = clock

    def reaches(self, message: Message) -> bool:
        """People (or offices) with a webhook URL."""
        return bool(message.contacts.get("webhook"))

    def send(self, message: Message) -> str:
        """POST the message as JSON with signature headers and the idempotency key."""
        body = json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "X-Riverchief-Timestamp": timestamp,
            "X-Riverchief-Signature": f"sha256={sign_webhook(self.secret, timestamp, body)}",
            "Idempotency-Key": f"{message.key}:webhook",
        }
        response = _post(self.client, message.contacts["webhook"], body, headers)
        return f"HTTP {response.status_code}"


def _robot_reply(response: httpx.Response) -> str:
    """WeCom and DingTalk answer 200 with an errcode; non-zero is a refusal."""
    try:
        reply = response.json()
    except ValueError as exc:
        raise DeliveryError(f"robot answered non-JSON: {response.text[:200]}") from exc
    code = reply.get("errcode", 0)
    if code:
        # Rate limits (45009 WeCom, 130101 DingTalk) pass; anything else is a configuration fault.
        raise DeliveryError(f"robot errcode {code}: {reply.get('errmsg')}", permanent=code not in (45009, 130101))
    return f"errcode 0 ({response.status_code})"


class WeComChannel:
    """A WeCom (企业微信) group robot: markdown message to the group's webhook."""

    name = "wecom"

    def __init__(self, *, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=10.0, follow_redirects=False)

    def reaches(self, message: Message) -> bool:
        """Offices whose group has a WeCom robot."""
        return bool(message.contacts.get("wecom"))

    def send(self, message: Message) -> str:
        """Post the robot-flavoured markdown."""
        body = json.dumps(
            {"msgtype": "markdown", "markdown": {"content": message.markdown}}, ensure_ascii=False
        ).encode()
        return _robot_reply(_post(self.client, message.contacts["wecom"], body, {}))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's signed-URL scheme: timestamp and base64 HMAC-SHA256 of "timestamp\\nsecret"."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={urllib.parse.quote_plus(sign)}"


class DingTalkChannel:
    """A DingTalk (钉钉) group robot, with its signed URL when the robot has a secret."""

    name = "dingtalk"

    def __init__(self, *, client: httpx.Client | None = None, clock: Any = time.time) -> None:
        self.client = client or httpx.Client(timeout=10.0, follow_redirects=False)
        self.clock = clock

    def reaches(self, message: Message) -> bool:
        """Offices whose group has a DingTalk robot."""
        robot = message.contacts.get("dingtalk")
        return bool(robot.get("url") if isinstance(robot, dict) else robot)

    def send(self, message: Message) -> str:
        """Post markdown to the (signed) robot URL."""
        robot = message.contacts["dingtalk"]
        url, secret = (robot["url"], robot.get("secret")) if isinstance(robot, dict) else (robot, None)
        if secret:
            url = dingtalk_signed_url(url, secret, int(self.clock() * 1000))
        body = json.dumps(
            {"msgtype": "markdown", "markdown": {"title": message.subject, "text": message.markdown}},
            ensure_ascii=False,
        ).encode()
        return _robot_reply(_post(self.client, url, body, {}))
