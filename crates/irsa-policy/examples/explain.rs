//! Prints the explanation for a denied web-identity request: what `irsa doctor` shows.
//!
//! `cargo run -p irsa-policy --example explain`

use irsa_policy::{Policy, RequestContext};

fn main() {
    let doc = include_str!("../tests/fixtures/namespace-wildcard-with-deny.json");
    let policy = match Policy::parse_trust_policy(doc) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e} (AWS: {})", e.aws_message());
            std::process::exit(1);
        }
    };
    let arn = "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/c1";
    for sub in [
        "system:serviceaccount:team-a:web",
        "system:serviceaccount:team-a:debug",
        "system:serviceaccount:team-b:web",
    ] {
        let ctx =
            RequestContext::web_identity(arn, "issuer.example.com/c1", sub, "sts.amazonaws.com");
        println!("{sub}: {}", policy.evaluate_explained(&ctx));
    }
}
