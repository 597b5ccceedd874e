//! trust_policy (being built).
