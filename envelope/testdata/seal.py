#!/usr/bin/python3
"""An independent client of the multimsg upload encryption (docs/ENCRYPTION.md).

    seal.py [--aes-bytes 16|24|32] BOX_PUBLIC.pem OUTDIR FILE...

Writes OUTDIR/key (the AES key wrapped with RSA-OAEP SHA-256 under the box's public
key) and OUTDIR/<name of FILE> = 12-byte nonce || AES-GCM ciphertext || 16-byte tag
for each FILE. Uses only python3-cryptography, not our Go code.
"""
import argparse
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aes-bytes", type=int, default=32, choices=(16, 24, 32))
    ap.add_argument("public_pem")
    ap.add_argument("outdir")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    with open(a.public_pem, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())

    aes_key = AESGCM.generate_key(bit_length=8 * a.aes_bytes)
    wrapped = pub.encrypt(
        aes_key,
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                     algorithm=hashes.SHA256(), label=None),
    )
    with open(os.path.join(a.outdir, "key"), "wb") as f:
        f.write(wrapped)

    gcm = AESGCM(aes_key)
    for path in a.files:
        with open(path, "rb") as f:
            plain = f.read()
        nonce = os.urandom(12)
        # AESGCM.encrypt returns ciphertext || 16-byte tag.
        sealed = nonce + gcm.encrypt(nonce, plain, None)
        with open(os.path.join(a.outdir, os.path.basename(path)), "wb") as f:
            f.write(sealed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
