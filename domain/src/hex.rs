//! Lower-case hexadecimal, the one encoder of hashes and checksums (content
//! addresses, cursor checksums, client request tokens, MD5s of export
//! files). A few lines rather than a crate: the Worker's bundle carries it.

use std::fmt::Write;

/// `bytes` as lower-case hex, two characters a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lower_case_digits_a_byte() {
        assert_eq!(super::encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::encode(&[]), "");
    }
}
