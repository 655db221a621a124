#!/usr/bin/python3
"""Opens what a multimsg client sealed, independently of our Go code (docs/ENCRYPTION.md).

    open.py BOX_PRIVATE.pem KEYFILE OUTDIR SEALED...

Unwraps KEYFILE (RSA-OAEP SHA-256, MGF1-SHA-256, no label) with the box's private key
(PKCS#8 PEM) and writes OUTDIR/<name of SEALED> = the AES-GCM plaintext of each
SEALED (12-byte nonce || ciphertext || 16-byte tag). Exits 1 naming the file that fails.
"""
import os
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    priv_pem, key_file, outdir, sealed_files = argv[0], argv[1], argv[2], argv[3:]
    with open(priv_pem, "rb") as f:
        priv = serialization.load_pem_private_key(f.read(), password=None)
    with open(key_file, "rb") as f:
        aes_key = priv.decrypt(
            f.read(),
            padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                         algorithm=hashes.SHA256(), label=None),
        )
    if len(aes_key) not in (16, 24, 32):
        print("key: %d-byte AES key" % len(aes_key), file=sys.stderr)
        return 1
    gcm = AESGCM(aes_key)
    for path in sealed_files:
        with open(path, "rb") as f:
            sealed = f.read()
        try:
            plain = gcm.decrypt(sealed[:12], sealed[12:], None)
        except InvalidTag:
            print("%s: authentication failed" % path, file=sys.stderr)
            return 1
        with open(os.path.join(outdir, os.path.basename(path)), "wb") as f:
            f.write(plain)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
