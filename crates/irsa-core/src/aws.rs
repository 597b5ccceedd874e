//! aws (being built).
