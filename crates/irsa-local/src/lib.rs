//! The local IRSA chain: issuer, IAM and strict STS.
