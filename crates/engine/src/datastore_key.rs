//! The datastore's encryption key and StackStorm's ciphertext format, so
//! secret values are encrypted at rest and read back as StackStorm shows
//! them.
//!
//! StackStorm (`st2common/util/crypto.py`) encrypts a secret with AES in CBC
//! mode and signs it with HMAC-SHA1, in keyczar's layout: a 5-byte header
//! (`00000`), a 16-byte IV, the PKCS#7-padded ciphertext, then the 20-byte
//! signature of everything before it, all written as upper-case hex. The key
//! file is keyczar's JSON (`/etc/st2/keys/datastore_key.json` in StackStorm):
//! `{"hmacKey": {"hmacKeyString": B64, "size": 256}, "aesKeyString": B64,
//! "mode": "CBC", "size": 256}`, with URL-safe base64 without padding. A
//! StackStorm key file copied in place decrypts values exported from
//! StackStorm (`st2 key load` of a file with `"encrypted": true`), and values
//! encrypted here decrypt there.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha1::Sha1;

/// keyczar's header, unused but kept for the layout (StackStorm writes `00000`).
const HEADER: &[u8; 5] = b"00000";
const IV_LEN: usize = 16;
const SIGNATURE_LEN: usize = 20;
/// StackStorm's `MINIMUM_AES_KEY_SIZE`, in bits.
const MIN_KEY_BITS: usize = 128;
/// The size of a generated key, in bits (StackStorm's default).
const KEY_BITS: usize = 256;

/// A key file that cannot be read, written or understood.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// (The I/O error is in the message, not a `source`: printed once.)
    #[error("cannot {what} the datastore key {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the datastore key {} is not a StackStorm (keyczar JSON) AES key: {reason}; \
         restore it from a backup, or move it away to start a new key (secrets stored \
         with the old key can then not be read)",
        path.display()
    )]
    Malformed { path: PathBuf, reason: String },
}

/// Why a value does not decrypt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the value is not StackStorm ciphertext (upper- or lower-case hex expected)")]
    NotHex,
    #[error("the value is too short to be StackStorm ciphertext")]
    TooShort,
    #[error("the value's signature does not match: it was encrypted with another key or has been changed")]
    BadSignature,
    #[error("the value decrypts to malformed padding")]
    BadPadding,
    #[error("the value decrypts to bytes that are not UTF-8 text")]
    NotText,
}

#[derive(Serialize, Deserialize)]
struct HmacKeyJson {
    #[serde(rename = "hmacKeyString")]
    hmac_key_string: String,
    size: usize,
}

/// keyczar's JSON key file, as StackStorm reads and writes it.
#[derive(Serialize, Deserialize)]
struct KeyJson {
    #[serde(rename = "hmacKey")]
    hmac_key: HmacKeyJson,
    #[serde(rename = "aesKeyString")]
    aes_key_string: String,
    mode: String,
    size: usize,
}

/// The datastore's AES and HMAC keys. Its `Debug` shows no key material.
#[derive(Clone)]
pub struct DatastoreKey {
    aes: Vec<u8>,
    hmac: Vec<u8>,
}

impl std::fmt::Debug for DatastoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatastoreKey(AES-{})", self.aes.len() * 8)
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl DatastoreKey {
    /// A new random 256-bit AES key and 256-bit HMAC key.
    pub fn generate() -> DatastoreKey {
        let mut aes = vec![0u8; KEY_BITS / 8];
        let mut hmac = vec![0u8; KEY_BITS / 8];
        rand::rngs::OsRng.fill_bytes(&mut aes);
        rand::rngs::OsRng.fill_bytes(&mut hmac);
        DatastoreKey { aes, hmac }
    }

    /// Reads a keyczar JSON key file (StackStorm's `read_crypto_key`).
    ///
    /// Errors: the file cannot be read, or is not JSON with an AES-CBC key of
    /// 128, 192 or 256 bits and an HMAC key.
    pub fn read(path: &Path) -> Result<DatastoreKey, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyFileError::Io {
            what: "read",
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_json(&text).map_err(|reason| KeyFileError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn from_json(text: &str) -> Result<DatastoreKey, String> {
        let json: KeyJson = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !json.mode.eq_ignore_ascii_case("CBC") {
            return Err(format!("mode {} is not CBC", json.mode));
        }
        let decode = |what: &str, s: &str| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            b64()
                .decode(s.trim_end_matches('='))
                .map_err(|e| format!("{what} is not URL-safe base64: {e}"))
        };
        let aes = decode("aesKeyString", &json.aes_key_string)?;
        let hmac = decode("hmacKeyString", &json.hmac_key.hmac_key_string)?;
        if json.size < MIN_KEY_BITS {
            return Err(format!("size {} is below {MIN_KEY_BITS} bits", json.size));
        }
        if !matches!(aes.len(), 16 | 24 | 32) {
            return Err(format!(
                "the AES key is {} bits; 128, 192 or 256 expected",
                aes.len() * 8
            ));
        }
        if hmac.is_empty() {
            return Err("the HMAC key is empty".into());
        }
        Ok(DatastoreKey { aes, hmac })
    }

    /// The key as keyczar JSON, as StackStorm's `AESKey.to_json()` writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&KeyJson {
            hmac_key: HmacKeyJson {
                hmac_key_string: b64().encode(&self.hmac),
                size: self.hmac.len() * 8,
            },
            aes_key_string: b64().encode(&self.aes),
            mode: "CBC".into(),
            size: self.aes.len() * 8,
        })
        .expect("a key serialises")
    }

    /// The key at `path`, made (mode 0600) when there is none. Two processes
    /// starting at once agree on one key: the new key is written to a
    /// temporary file and linked into place only if no key is there yet.
    pub fn load_or_create(path: &Path) -> Result<DatastoreKey, KeyFileError> {
        match Self::read(path) {
            Err(KeyFileError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            }
            other => return other,
        }
        let io = |what: &'static str| {
            move |error: std::io::Error| KeyFileError::Io {
                what,
                path: path.to_path_buf(),
                error,
            }
        };
        let key = Self::generate();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(key.to_json().as_bytes())?;
                f.sync_all()
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write")(e));
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            // Another process made one first: use it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::read(path),
            Err(e) => Err(io("create")(e)),
        }
    }

    /// `plaintext` encrypted as StackStorm's `symmetric_encrypt` does
    /// (upper-case hex; a new random IV each time).
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut iv = [0u8; IV_LEN];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let body = match self.aes.len() {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&self.aes, &iv)
                .expect("key and IV lengths checked")
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
            24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(&self.aes, &iv)
                .expect("key and IV lengths checked")
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&self.aes, &iv)
                .expect("key and IV lengths checked")
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
        };
        let mut message = Vec::with_capacity(HEADER.len() + IV_LEN + body.len() + SIGNATURE_LEN);
        message.extend_from_slice(HEADER);
        message.extend_from_slice(&iv);
        message.extend_from_slice(&body);
        let signature = self.mac().chain_update(&message).finalize().into_bytes();
        message.extend_from_slice(&signature);
        hex::encode_upper(message)
    }

    /// The text `ciphertext` holds, as StackStorm's `symmetric_decrypt`
    /// reads it: the signature is checked before anything is decrypted.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String, DecryptError> {
        let bytes = hex::decode(ciphertext.trim()).map_err(|_| DecryptError::NotHex)?;
        if bytes.len() < HEADER.len() + IV_LEN + SIGNATURE_LEN {
            return Err(DecryptError::TooShort);
        }
        let (message, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        self.mac()
            .chain_update(message)
            .verify_slice(signature)
            .map_err(|_| DecryptError::BadSignature)?;
        let (iv, body) = message[HEADER.len()..].split_at(IV_LEN);
        let plain = match self.aes.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.aes, iv)
                .expect("key and IV lengths checked")
                .decrypt_padded_vec_mut::<Pkcs7>(body),
            24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&self.aes, iv)
                .expect("key and IV lengths checked")
                .decrypt_padded_vec_mut::<Pkcs7>(body),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.aes, iv)
                .expect("key and IV lengths checked")
                .decrypt_padded_vec_mut::<Pkcs7>(body),
        }
        .map_err(|_| DecryptError::BadPadding)?;
        String::from_utf8(plain).map_err(|_| DecryptError::NotText)
    }

    fn mac(&self) -> Hmac<Sha1> {
        <Hmac<Sha1> as Mac>::new_from_slice(&self.hmac).expect("HMAC takes keys of any length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_differ_each_time() {
        let key = DatastoreKey::generate();
        for plain in ["", "hunter2", "sixteen bytes!!!", "pässwörd ✓"] {
            let a = key.encrypt(plain);
            let b = key.encrypt(plain);
            assert_ne!(a, b, "a new IV each time");
            assert!(a
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
            assert_eq!(key.decrypt(&a).unwrap(), plain);
            assert_eq!(key.decrypt(&a.to_lowercase()).unwrap(), plain);
        }
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        let key = DatastoreKey::generate();
        let other = DatastoreKey::generate();
        let c = key.encrypt("hunter2");
        assert_eq!(other.decrypt(&c), Err(DecryptError::BadSignature));
        let mut tampered = c.clone().into_bytes();
        tampered[12] = if tampered[12] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(key.decrypt(&tampered), Err(DecryptError::BadSignature));
        assert_eq!(key.decrypt("hunter2"), Err(DecryptError::NotHex));
        assert_eq!(key.decrypt("ABCD"), Err(DecryptError::TooShort));
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_say_why() {
        let dir = std::env::temp_dir().join(format!("sd-dskey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("datastore_key.json");
        let _ = std::fs::remove_file(&path);
        let made = DatastoreKey::load_or_create(&path).unwrap();
        let again = DatastoreKey::load_or_create(&path).unwrap();
        assert_eq!(again.decrypt(&made.encrypt("x")).unwrap(), "x");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, r#"{"mode": "CBC"}"#).unwrap();
        let err = DatastoreKey::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("not a StackStorm (keyczar JSON) AES key"),
            "{err}"
        );
        assert!(format!("{made:?}").starts_with("DatastoreKey(AES-256"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
