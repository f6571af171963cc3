"""Which key signs, chosen the same way by the service and the CLI.

An organisation key and chain, when configured, sign; else the installation's own key
(made on first use, see ``installation.py``); ``off`` signs nothing, on purpose only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from isegan.provenance.credentials import CredentialsError, CredentialSigner, root_of_chain
from isegan.provenance.installation import Installation, installation_of_organisation

SigningMode = Literal["on", "off"]
KeyKind = Literal["organisation", "installation", "off"]


@dataclass(frozen=True)
class SigningSetup:
    signer: CredentialSigner | None
    key: KeyKind
    root: str | None  # PEM of the root a verifier must trust for "trusted"
    #: The file that root comes from: the installation's root certificate, or the
    #: organisation's chain (its last certificate).
    root_source: Path | None

    def describe(self) -> str:
        if self.signer is None:
            return "outputs are NOT signed (C2PA off)"
        return (
            f"outputs are signed by {self.signer.subject} ({self.key} key; "
            f"verifiers trust the root in {self.root_source})"
        )


def require_key_pair(key: Path | None, chain: Path | None) -> None:
    """A signing key is only usable with its certificate chain, and the other way round."""
    if (key is None) != (chain is None):
        raise CredentialsError("a C2PA key and its certificate chain go together")


def choose_signing(
    mode: SigningMode,
    installation: Installation,
    key: Path | None = None,
    chain: Path | None = None,
) -> SigningSetup:
    require_key_pair(key, chain)
    if mode == "off":
        return SigningSetup(None, "off", None, None)
    if key is not None and chain is not None:
        signer = CredentialSigner(key, chain)
        return SigningSetup(signer, "organisation", root_of_chain(chain.read_bytes()), chain)
    signer = CredentialSigner(installation.key, installation.chain)
    return SigningSetup(signer, "installation", installation.root.read_text(), installation.root)


def installations_in_roots(pem: str | None) -> list[str]:
    """Installation ids named by installation roots in a PEM bundle (trust anchors)."""
    if not pem:
        return []
    found = []
    for certificate in x509.load_pem_x509_certificates(pem.encode()):
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
            installation = installation_of_organisation(str(attribute.value))
            if installation is not None:
                found.append(installation)
    return found
