#!/bin/sh
# Encrypted upload with curl + openssl (+ python3-cryptography for AES-GCM, which the
# openssl command line cannot do). docs/ENCRYPTION.md shows this script; envelope's
# TestShellExample runs it against a box, so it stays correct.
#   BOX=http://192.168.1.10:8080 upload.sh FILE...   → prints the job id
set -eu
BOX=${BOX:-http://127.0.0.1:8080}
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The box's public key (PEM "PUBLIC KEY").
curl -fsS "$BOX/key" -o "$work/box.pub"

# 2. A random AES-256 key, wrapped with RSA-OAEP, SHA-256 for both OAEP and MGF1, no label.
openssl rand -out "$work/aes.key" 32
openssl pkeyutl -encrypt -pubin -inkey "$work/box.pub" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -in "$work/aes.key" -out "$work/key"

# 3. Each file: 12-byte random nonce || AES-GCM ciphertext || 16-byte tag, no associated data.
form=""
for f in "$@"; do
    name=$(basename "$f")
    "$PYTHON" -c '
import os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = open(sys.argv[1], "rb").read()
nonce = os.urandom(12)
sealed = nonce + AESGCM(key).encrypt(nonce, open(sys.argv[2], "rb").read(), None)
open(sys.argv[3], "wb").write(sealed)
' "$work/aes.key" "$f" "$work/$name"
    form="$form -F $name=@$work/$name"
done

# 4. One multipart/form-data POST: the files under their names, the wrapped key as a file named "key".
# shellcheck disable=SC2086
curl -fsS $form -F "key=@$work/key" "$BOX/data"
echo
