"""A mail server for tests: an SMTP sink (aiosmtpd) on 127.0.0.1 that offers STARTTLS with a
certificate of its own, signs in any user once the connection is encrypted, and reports each
message it accepts as a line written to a file."""

import datetime
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testing.servers import free_port


@dataclass
class MailServer:
    """Where the sink listens, and the certificate a client must trust (`SSL_CERT_FILE`)."""

    host: str
    port: int
    certificate: Path


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for `host` (an IP address) and its key, written to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Reporter:
    """Writes one line for each message accepted."""

    def __init__(self, report):
        self.report = report

    async def handle_DATA(self, server, session, envelope):
        login = getattr(session.auth_data, "login", None)
        who = login.decode() if login else "nobody"
        over = "STARTTLS" if session.ssl else "plain text"
        for recipient in envelope.rcpt_tos:
            with self.report.open("a") as report:
                report.write(
                    f"mail server: accepted a message for {recipient} from "
                    f"{envelope.mail_from}, over {over}, signed in as {who}\n"
                )
        return "250 Message accepted for delivery"


def _any_user(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


@contextmanager
def smtp_sink(report) -> Iterator[MailServer]:
    """Serve the sink until the block ends, appending a line for each message to `report`: a
    Path, or anything with a Path's `open(mode)`, asked at each message."""
    host = "127.0.0.1"
    # aiosmtpd warns of its own deprecated attribute at every login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as directory:
        cert, key = self_signed_certificate(Path(directory), host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        controller = Controller(
            _Reporter(report),
            hostname=host,
            port=free_port(),
            tls_context=context,
            require_starttls=True,
            authenticator=_any_user,
            auth_require_tls=True,
        )
        controller.start()
        try:
            yield MailServer(host=host, port=controller.port, certificate=cert)
        finally:
            controller.stop()
