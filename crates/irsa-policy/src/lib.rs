//! IAM policy grammar and evaluation for trust policies.
