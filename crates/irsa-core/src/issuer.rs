//! issuer (being built).
