//! Which URLs the client fetches, and where a TLS handshake goes.

use std::fmt;

use irsa_core::issuer::is_loopback_host;

/// Accepts `https://` URLs, and `http://` URLs whose host is a loopback host; refuses every
/// other URL with the rule it breaks. Applied to each URL given, each `jwks_uri`, and each
/// redirect.
pub fn check_fetch_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(format!(
            "plain http:// is allowed only to a loopback host (127.0.0.1, localhost, [::1]), not {host:?}; use https://"
        )),
        scheme => Err(format!(
            "scheme {scheme:?} is not fetched: use an https:// URL"
        )),
    }
}

/// The server a thumbprint handshake connects to, and the name it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port, 443 unless the URL names one.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses an issuer or JWKS URL (`https://HOST[:PORT][/PATH]`) or a bare `HOST[:PORT]` into
/// the endpoint whose TLS chain is thumbprinted. Other schemes have no TLS chain.
pub fn parse_endpoint(url: &str) -> Result<Endpoint, String> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if url.contains("://") {
        return Err(format!("{url:?}: only https:// URLs have a TLS chain"));
    } else {
        url
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("{url:?}: user info is not allowed"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unterminated [IPv6] host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("{url:?}: junk after the [IPv6] host")),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{url:?}: port {p:?} is not 1..65535"))?,
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e = |h: &str, p| Endpoint {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            parse_endpoint("https://oidc.example.com/x/y"),
            Ok(e("oidc.example.com", 443))
        );
        assert_eq!(
            parse_endpoint("https://127.0.0.1:8443"),
            Ok(e("127.0.0.1", 8443))
        );
        assert_eq!(parse_endpoint("example.com"), Ok(e("example.com", 443)));
        assert_eq!(
            parse_endpoint("https://[::1]:9443/keys.json"),
            Ok(e("::1", 9443))
        );
        assert_eq!(e("::1", 9443).to_string(), "[::1]:9443");
        assert!(parse_endpoint("http://example.com").is_err());
        assert!(parse_endpoint("https://example.com:0").is_err());
        assert!(parse_endpoint("https://").is_err());
        assert!(parse_endpoint("https://user@example.com").is_err());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_fetch_url("https://idp.example.com/keys").is_ok());
        assert!(check_fetch_url("http://127.0.0.1:8080/keys.json").is_ok());
        assert!(check_fetch_url("http://localhost:8080/x").is_ok());
        assert!(check_fetch_url("http://[::1]:8080/x").is_ok());
        let err = check_fetch_url("http://idp.example.com/keys").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(check_fetch_url("http://10.0.0.1/keys").is_err());
        assert!(check_fetch_url("ftp://idp.example.com/keys").is_err());
        assert!(check_fetch_url("not a url").is_err());
    }
}
