//! Pure IRSA domain model: no I/O, no async runtime, no Kubernetes or AWS client.
//!
//! Everything here is a value with validation: account IDs, regions and partitions,
//! ARNs, Kubernetes names, and the [`issuer::ClusterIssuer`] from which the S3 bucket,
//! the IAM OIDC provider ARN and the trust-policy condition keys all derive. Deriving
//! them from one value is deliberate: real IRSA incidents came from two of them drifting
//! apart (see the cross-account section of the README).
//!
//! Every validation failure is an [`error::InvalidValue`] naming the input, the value and
//! the rule it broke.
//!
//! ```
//! use irsa_core::aws::{AccountId, Region};
//! use irsa_core::issuer::{ClusterId, ClusterIssuer, SUB};
//! use irsa_core::k8s::SubjectPattern;
//! use irsa_core::trust_policy::TrustPolicyRequest;
//!
//! let account = AccountId::parse("123456789012")?;
//! let region = Region::parse("eu-west-1")?;
//! let issuer = ClusterIssuer::s3(&account, &region, &ClusterId::parse("abc12")?);
//! assert_eq!(issuer.bucket(), Some("123456789012-g8s-abc12-oidc-pod-identity"));
//! assert_eq!(
//!     issuer.condition_key(SUB),
//!     "s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity:sub"
//! );
//! let subjects = vec![SubjectPattern::new("default", "s3-access")?];
//! let policy = TrustPolicyRequest::new(issuer.clone(), account, subjects).build()?;
//! assert!(policy.to_json_compact().contains(&issuer.condition_key("aud")));
//!
//! let err = AccountId::parse("1234").unwrap_err().for_input("--account");
//! assert_eq!(err.to_string(), "--account must be 12 digits, got '1234'");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// String conversions for a validated value type.
///
/// `string_value!(T)` is for types with `parse(&str) -> Result<T, InvalidValue>` and
/// `as_str()`: it adds `Display`, `FromStr`, `AsRef<str>`, `TryFrom<String>`, `TryFrom<&str>`
/// and serde as a string. `string_value!(@parse T)` is for types that print themselves.
macro_rules! string_value {
    ($t:ty) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        string_value!(@parse $t);
    };
    (@parse $t:ty) => {
        impl ::std::str::FromStr for $t {
            type Err = $crate::error::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl TryFrom<&str> for $t {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub mod aws;
pub mod error;
pub mod issuer;
pub mod k8s;
pub mod kiam;
pub mod mutation;
pub mod trust_policy;

pub use error::{InvalidValue, Rule};
