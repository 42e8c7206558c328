"""StackStorm's datastore ciphertext, made and read with PyPI's `cryptography`,
to check Stormdesk's encryption of secret keys against an independent
implementation of the same documented format.

The format (StackStorm's `st2common/util/crypto.py`, keyczar's layout): the
key file is keyczar JSON with URL-safe unpadded base64 keys; a value is
hex(header "00000" + IV(16) + AES-CBC(PKCS#7 padded text) + HMAC-SHA1 of all
that), upper case.

Usage:
    datastore_crypto.py KEY_FILE decrypt HEX   -> prints the clear text
    datastore_crypto.py KEY_FILE encrypt TEXT  -> prints the ciphertext
"""

import base64
import binascii
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def b64_websafe(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load(path):
    with open(path) as f:
        data = json.load(f)
    assert data["mode"].upper() == "CBC", data["mode"]
    return b64_websafe(data["aesKeyString"]), b64_websafe(data["hmacKey"]["hmacKeyString"])


def sign(hmac_key, message):
    h = hmac.HMAC(hmac_key, hashes.SHA1())
    h.update(message)
    return h.finalize()


def encrypt(keys, text):
    aes_key, hmac_key = keys
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    message = b"00000" + iv + enc.update(padded) + enc.finalize()
    return binascii.hexlify(message + sign(hmac_key, message)).decode().upper()


def decrypt(keys, hex_text):
    aes_key, hmac_key = keys
    raw = binascii.unhexlify(hex_text)
    message, signature = raw[:-20], raw[-20:]
    h = hmac.HMAC(hmac_key, hashes.SHA1())
    h.update(message)
    h.verify(signature)
    iv, body = message[5:21], message[21:]
    dec = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = dec.update(body) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def main():
    key_file, op, value = sys.argv[1:4]
    keys = load(key_file)
    print(encrypt(keys, value) if op == "encrypt" else decrypt(keys, value))


if __name__ == "__main__":
    main()
