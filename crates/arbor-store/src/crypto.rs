//! Encryption at rest: the master key, per-tenant data keys, and the ciphertext format.
//!
//! Envelope encryption. The master key (32 bytes, from `ARBOR_MASTER_KEY` or `ARBOR_MASTER_KEY_FILE`, never
//! stored) wraps one data key per tenant and key version; data keys encrypt the records. Everything uses
//! AES-256-GCM with a fresh random 96-bit nonce per encryption.
//!
//! Ciphertext format (a record column): `[FORMAT = 1][key version: u32 BE][nonce: 12][ciphertext + tag: 16]`.
//! The associated data binds the ciphertext to its place: `"arbor/v1" ‖ tenant id ‖ table ‖ 0 ‖ row ‖ 0 ‖
//! column`, so a ciphertext copied to another tenant, table, row or column fails to decrypt, and the error
//! names the record it was read from.
//!
//! Invariants:
//! - Key material lives in [`Zeroizing`] buffers and never appears in `Debug` output or errors.
//! - The master key is identified by a [`KeyId`] (a keyed hash of it, not the key), stored next to every
//!   wrapped data key, so a wrong master key is reported as such instead of as a corrupt record.
//! - The audit chain's key is a random key of its own, wrapped by the master key like the data keys: it is
//!   independent of every data key, and survives master key rotation by being re-wrapped.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::model::TenantId;

/// The first byte of every ciphertext this version of arbor writes.
pub const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Why a key or a ciphertext could not be used. Messages name records and key ids, never key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "the master key must be 32 bytes given as 64 hexadecimal characters or as base64; got {0}"
    )]
    MasterKeyFormat(&'static str),
    #[error(
        "the master key (id {configured}) is not the one this database's keys are wrapped with (id {stored}); \
         set ARBOR_MASTER_KEY or ARBOR_MASTER_KEY_FILE to the right key"
    )]
    WrongMasterKey { configured: KeyId, stored: String },
    #[error(
        "the data key of tenant {tenant}, version {version} does not unwrap with master key {key}: it is corrupt"
    )]
    CorruptDataKey {
        tenant: TenantId,
        version: u32,
        key: KeyId,
    },
    #[error("{record}: the ciphertext is corrupt or was moved from another record ({reason})")]
    Corrupt {
        record: String,
        reason: &'static str,
    },
    #[error(
        "{record}: it is encrypted with data key version {version}, which tenant {tenant} no longer has"
    )]
    MissingKey {
        record: String,
        tenant: TenantId,
        version: u32,
    },
    #[error("the audit key does not unwrap with master key {key}: it is corrupt")]
    CorruptAuditKey { key: KeyId },
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("a value of {0} bytes is too large to encrypt")]
    TooLarge(usize),
}

/// Where a ciphertext lives; it is bound into the associated data and named in errors.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub tenant: TenantId,
    pub table: &'static str,
    pub row: &'a str,
    pub column: &'static str,
}

impl Place<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad =
            Vec::with_capacity(32 + self.table.len() + self.row.len() + self.column.len());
        aad.extend_from_slice(b"arbor/v1");
        aad.extend_from_slice(&self.tenant.get().to_be_bytes());
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.column.as_bytes());
        aad
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant {} {}.{} of row {}",
            self.tenant, self.table, self.column, self.row
        )
    }
}

/// A short public identifier of a master key: the first 8 bytes of HMAC-SHA256(key, label), in hex.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// The master key. Parsed from the configured secret; `Debug` prints only its id.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    id: KeyId,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id {})", self.id)
    }
}

fn derive(key: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC-SHA256 as a PRF under a distinct label per purpose (one HKDF-Expand block).
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(label);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

impl MasterKey {
    /// Parses 64 hexadecimal characters or base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    /// Surrounding whitespace (a trailing newline in a key file) is ignored.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CryptoError::MasterKeyFormat("an empty value"));
        }
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = Zeroizing::new(vec![0u8; 32]);
            for (i, pair) in text.as_bytes().chunks(2).enumerate() {
                out[i] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            }
            out
        } else {
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            let decoded = engines.iter().find_map(|engine| engine.decode(text).ok());
            match decoded {
                Some(bytes) => Zeroizing::new(bytes),
                None => return Err(CryptoError::MasterKeyFormat("neither hex nor base64")),
            }
        };
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MasterKeyFormat("a value that is not 32 bytes long"))?;
        Ok(Self::from_bytes(array))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let digest = derive(&bytes, b"arbor master key id v1");
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            bytes,
            id: KeyId(id),
        }
    }

    /// A fresh random key (tests, `arbor keys generate`).
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        aes_gcm_cipher(&self.bytes)
    }

    /// Wraps 32 bytes of key material: `nonce ‖ ciphertext + tag`, bound to `aad`.
    fn wrap_bytes(&self, aad: &[u8], key: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_nonce()?;
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key, aad })
            .map_err(|_| CryptoError::TooLarge(key.len()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap_bytes(&self, aad: &[u8], wrapped: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        if wrapped.len() != NONCE_LEN + 32 + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(Nonce::from_slice(&nonce), Payload { msg: sealed, aad })
                .ok()?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(plain.get(..32)?);
        Some(out)
    }

    fn data_key_aad(tenant: TenantId, version: u32) -> Vec<u8> {
        let mut aad = b"arbor tenant data key v1".to_vec();
        aad.extend_from_slice(&tenant.get().to_be_bytes());
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }

    /// Wraps a tenant's data key, bound to its tenant and version.
    pub fn wrap(&self, tenant: TenantId, key: &DataKey) -> Result<Vec<u8>, CryptoError> {
        self.wrap_bytes(&Self::data_key_aad(tenant, key.version), &key.bytes)
    }

    /// Unwraps a data key wrapped by [`MasterKey::wrap`] for this tenant and version.
    pub fn unwrap_key(
        &self,
        tenant: TenantId,
        version: u32,
        wrapped: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let bytes = self
            .unwrap_bytes(&Self::data_key_aad(tenant, version), wrapped)
            .ok_or_else(|| CryptoError::CorruptDataKey {
                tenant,
                version,
                key: self.id.clone(),
            })?;
        Ok(DataKey { version, bytes })
    }

    /// Wraps the audit chain's key. It is random (not derived from the master key) so that rotating the
    /// master key re-wraps it instead of breaking the chain.
    pub fn wrap_audit_key(&self, key: &AuditKey) -> Result<Vec<u8>, CryptoError> {
        self.wrap_bytes(AUDIT_KEY_AAD, &key.0)
    }

    pub fn unwrap_audit_key(&self, wrapped: &[u8]) -> Result<AuditKey, CryptoError> {
        self.unwrap_bytes(AUDIT_KEY_AAD, wrapped)
            .map(AuditKey)
            .ok_or(CryptoError::CorruptAuditKey {
                key: self.id.clone(),
            })
    }
}

const AUDIT_KEY_AAD: &[u8] = b"arbor audit chain key v1";

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

fn aes_gcm_cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key).unwrap_or_else(|_| unreachable!("the key is 32 bytes"))
}

fn random_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    Ok(nonce)
}

/// The key of the audit chain's HMAC.
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Random)?;
        Ok(Self(bytes))
    }

    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// One version of a tenant's data key.
pub struct DataKey {
    version: u32,
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(version {})", self.version)
    }
}

impl DataKey {
    pub fn generate(version: u32) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Random)?;
        Ok(Self { version, bytes })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Encrypts `plain` for `place` in the format described in the module docs.
    pub fn seal(&self, place: &Place<'_>, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_nonce()?;
        let sealed = aes_gcm_cipher(&self.bytes)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &place.aad(),
                },
            )
            .map_err(|_| CryptoError::TooLarge(plain.len()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a ciphertext read from `place`; the key must be the version [`key_version`] names.
    pub fn open(&self, place: &Place<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let corrupt = |reason| CryptoError::Corrupt {
            record: place.to_string(),
            reason,
        };
        let version = key_version(place, sealed)?;
        if version != self.version {
            return Err(corrupt("the key version does not match"));
        }
        let nonce: [u8; NONCE_LEN] = sealed[5..HEADER_LEN]
            .try_into()
            .map_err(|_| corrupt("truncated"))?;
        aes_gcm_cipher(&self.bytes)
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &place.aad(),
                },
            )
            .map_err(|_| corrupt("authentication failed"))
    }
}

/// The data key version a ciphertext names, after checking its header.
pub fn key_version(place: &Place<'_>, sealed: &[u8]) -> Result<u32, CryptoError> {
    let corrupt = |reason| CryptoError::Corrupt {
        record: place.to_string(),
        reason,
    };
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(corrupt("too short"));
    }
    if sealed[0] != FORMAT {
        return Err(corrupt("unknown format byte"));
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&sealed[1..5]);
    Ok(u32::from_be_bytes(version))
}

/// `bytes` random bytes as hex: an unguessable name for a lease or a lock holder.
pub(crate) fn random_hex(bytes: usize) -> Result<String, CryptoError> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).map_err(|_| CryptoError::Random)?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(row: &str) -> Place<'_> {
        Place {
            tenant: TenantId::new(1).unwrap(),
            table: "structures",
            row,
            column: "name",
        }
    }

    #[test]
    fn master_keys_parse_from_hex_and_base64() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let a = MasterKey::parse(hex).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(a.bytes.as_slice());
        let b = MasterKey::parse(&format!("{b64}\n")).unwrap();
        assert_eq!(a.id(), b.id());
        assert!(matches!(
            MasterKey::parse("abc"),
            Err(CryptoError::MasterKeyFormat(_))
        ));
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert!(MasterKey::parse(&short).is_err());
        assert!(!format!("{a:?}").contains("0011"));
    }

    #[test]
    fn ciphertexts_are_bound_to_their_place() {
        let key = DataKey::generate(3).unwrap();
        let sealed = key.seal(&place("7"), b"Roadmap").unwrap();
        assert_eq!(key_version(&place("7"), &sealed).unwrap(), 3);
        assert_eq!(key.open(&place("7"), &sealed).unwrap(), b"Roadmap");
        let moved = key.open(&place("8"), &sealed).unwrap_err().to_string();
        assert!(moved.contains("row 8"), "{moved}");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(key.open(&place("7"), &flipped).is_err());
        assert!(key.open(&place("7"), &sealed[..10]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn sealing_round_trips_and_any_flipped_bit_fails(
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            flip in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let key = DataKey::generate(1).unwrap();
            let sealed = key.seal(&place("r"), &plain).unwrap();
            proptest::prop_assert_eq!(key.open(&place("r"), &sealed).unwrap(), plain);
            let mut bad = sealed.clone();
            let at = flip.index(bad.len());
            bad[at] ^= 0x01;
            proptest::prop_assert!(key.open(&place("r"), &bad).is_err());
        }
    }

    #[test]
    fn data_keys_wrap_under_the_master_key_only() {
        let master = MasterKey::generate().unwrap();
        let tenant = TenantId::new(5).unwrap();
        let key = DataKey::generate(1).unwrap();
        let wrapped = master.wrap(tenant, &key).unwrap();
        let back = master.unwrap_key(tenant, 1, &wrapped).unwrap();
        let sealed = key.seal(&place("1"), b"x").unwrap();
        assert_eq!(back.open(&place("1"), &sealed).unwrap(), b"x");
        let other = MasterKey::generate().unwrap();
        assert!(other.unwrap_key(tenant, 1, &wrapped).is_err());
        assert!(
            master
                .unwrap_key(TenantId::new(6).unwrap(), 1, &wrapped)
                .is_err()
        );
    }
}
