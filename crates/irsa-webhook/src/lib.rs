//! The pod identity webhook server.
