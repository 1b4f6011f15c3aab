"""Token encryption at rest with the stack's KMS key (TokenCipher)."""

from __future__ import annotations

import base64

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
        # KeyId on decrypt too: only this key may open a stored token, and IAM sees which key is used.
        answer = client("kms").decrypt(KeyId=self._key_id, CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=context)
        plaintext: bytes = answer["Plaintext"]
        return plaintext.decode()
