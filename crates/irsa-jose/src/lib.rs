//! JOSE for IRSA: keys, key IDs, JWKS, discovery documents, token minting and strict verification.
