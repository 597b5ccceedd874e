//! A minimal DER writer: just enough to re-encode public keys canonically.
//!
//! kube-apiserver computes key IDs over Go's `x509.MarshalPKIXPublicKey`, i.e. over a
//! canonical re-encoding of the parsed key, not over the bytes in the file. Re-encoding
//! here from the key's components (modulus/exponent or curve point) gives the same bytes
//! whatever shape the input was (SPKI, PKCS#1, certificate, private key).

/// DER for OID 1.2.840.113549.1.1.1 (rsaEncryption), tag and length included.
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// DER for OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER for OID 1.2.840.10045.3.1.7 (P-256).
pub(crate) const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER for OID 1.3.132.0.34 (P-384).
pub(crate) const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER for OID 1.3.132.0.35 (P-521).
pub(crate) const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A non-negative INTEGER from big-endian magnitude bytes (leading zeros stripped,
/// one zero added back when the top bit is set).
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|b| **b == 0).count();
        &magnitude[skip..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

/// Strips the leading zero bytes of a big-endian unsigned integer.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[skip..]
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub(crate) fn rsa_public_key_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut content = unsigned_integer(n);
    content.extend_from_slice(&unsigned_integer(e));
    tlv(0x30, &content)
}

fn spki(algorithm: &[u8], key_bits: &[u8]) -> Vec<u8> {
    let alg = tlv(0x30, algorithm);
    let mut bit_string = Vec::with_capacity(key_bits.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(key_bits);
    let mut content = alg;
    content.extend_from_slice(&tlv(0x03, &bit_string));
    tlv(0x30, &content)
}

/// SubjectPublicKeyInfo for an RSA key, as Go's `MarshalPKIXPublicKey` writes it.
pub(crate) fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut alg = OID_RSA_ENCRYPTION.to_vec();
    alg.extend_from_slice(&[0x05, 0x00]); // NULL parameters
    spki(&alg, &rsa_public_key_pkcs1(n, e))
}

/// SubjectPublicKeyInfo for an EC key given the curve OID (DER) and the uncompressed point.
pub(crate) fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut alg = OID_EC_PUBLIC_KEY.to_vec();
    alg.extend_from_slice(curve_oid);
    spki(&alg, point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(
            unsigned_integer(&[0x01, 0x00, 0x01]),
            vec![0x02, 0x03, 0x01, 0x00, 0x01]
        );
        assert_eq!(
            unsigned_integer(&[0x00, 0x00, 0x7f]),
            vec![0x02, 0x01, 0x7f]
        );
        assert_eq!(unsigned_integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[]), vec![0x02, 0x01, 0x00]);
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let v = tlv(0x04, &[0u8; 300]);
        assert_eq!(&v[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(v.len(), 304);
    }
}
