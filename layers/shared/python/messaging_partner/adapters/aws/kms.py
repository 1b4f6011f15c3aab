"""Token encryption at rest with the stack's KMS key (TokenCipher)."""

from __future__ import annotations

import base64

from messaging_partner.domain.errors import TokenUnreadable

from .clients import client


class KmsTokenCipher:
    def __init__(self, key_id: str) -> None:
        self._key_id = key_id

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        blob = client("kms").encrypt(KeyId=self._key_id, Plaintext=plaintext.encode(), EncryptionContext=context)[
            "CiphertextBlob"
        ]
        return base64.b64encode(blob).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        """The token; TokenUnreadable when this ciphertext cannot open for this account with this key (nothing will
        open it); KMS's other failures (throttling, a disabled key, a missing permission) are raised as they come."""
        kms = client("kms")
        try:
            blob = base64.b64decode(ciphertext, validate=True)
            # KeyId on decrypt too: only this key may open a stored token, and IAM sees which key is used.
            answer = kms.decrypt(KeyId=self._key_id, CiphertextBlob=blob, EncryptionContext=context)
        except ValueError:  # binascii.Error
            raise TokenUnreadable("the stored ciphertext is not base64") from None
        except (kms.exceptions.InvalidCiphertextException, kms.exceptions.IncorrectKeyException) as error:
            code = error.response.get("Error", {}).get("Code", type(error).__name__)
            raise TokenUnreadable(f"KMS {code}: altered, or stored for another account or key") from None
        plaintext: bytes = answer["Plaintext"]
        return plaintext.decode()
