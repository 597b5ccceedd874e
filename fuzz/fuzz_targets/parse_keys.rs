//! Fuzzes the PEM key loaders and the JWKS parser: arbitrary bytes never panic.
#![no_main]

use irsa_jose::JwkSet;
use irsa_jose::keys::{parse_private_key_pem, parse_public_keys_pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_private_key_pem("fuzz", data);
    let _ = parse_public_keys_pem("fuzz", data);
    if let Ok(set) = JwkSet::parse(data) {
        let _ = set.to_json();
    }
});
