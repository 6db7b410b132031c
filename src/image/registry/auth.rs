//! Registry authentication: parsing `WWW-Authenticate` challenges, scopes, the token
//! endpoint's answer, and the token cache (per registry and scope, honouring `expires_in`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a registry asked for in a 401's `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    /// Get a token from `realm` (`?service=&scope=`) and send it as `Bearer`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses every challenge of a `WWW-Authenticate` value (RFC 7235: `scheme param=value, ...`,
/// values quoted or not, several challenges separated by commas). Unknown schemes are skipped.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip(|c| c == b',' || c.is_ascii_whitespace());
        let scheme = p.token();
        if scheme.is_empty() {
            break;
        }
        let mut params: HashMap<String, String> = HashMap::new();
        loop {
            p.skip(|c| c == b',' || c.is_ascii_whitespace());
            let save = p.i;
            let key = p.token();
            p.skip(|c| c == b' ' || c == b'\t');
            if key.is_empty() || !p.eat(b'=') {
                p.i = save; // the start of the next challenge
                break;
            }
            p.skip(|c| c == b' ' || c == b'\t');
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            params.insert(key.to_ascii_lowercase(), value);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            out.push(Challenge::Basic {
                realm: params.remove("realm"),
            });
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(realm) = params.remove("realm").filter(|r| !r.is_empty()) {
                out.push(Challenge::Bearer {
                    realm,
                    service: params.remove("service"),
                    scope: params.remove("scope"),
                });
            }
        }
    }
    out
}

/// The challenge to answer among the header values of a response: Bearer wins over Basic.
pub fn pick_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<Challenge> = values.into_iter().flat_map(parse_challenges).collect();
    all.iter()
        .find(|c| matches!(c, Challenge::Bearer { .. }))
        .or_else(|| all.first())
        .cloned()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }
    /// An unquoted token: up to whitespace, `,` or `=`... except that base64-ish token68
    /// values may end in `=`; parameters never need that here.
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|c| !(c.is_ascii_whitespace() || c == b',' || c == b'=' || c == b'"'));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1; // opening quote
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// `repository:<repo>:pull` (or `pull,push`).
pub fn repository_scope(repository: &str, push: bool) -> String {
    let actions = if push { "pull,push" } else { "pull" };
    format!("repository:{repository}:{actions}")
}

/// The scopes to request: ours, plus the challenge's own when it names one we lack.
pub fn merge_scopes(ours: &[String], challenge_scope: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = ours.to_vec();
    for s in challenge_scope.into_iter().flat_map(str::split_whitespace) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// A token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    /// When to stop using it (a little before it really expires).
    pub expires: Instant,
}

/// Parses `{"token": ..., "access_token": ..., "expires_in": secs}`; tokens live 60 s when the
/// answer does not say (the distribution spec's default).
pub fn parse_token(body: &[u8], now: Instant) -> Result<Token, String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("invalid token JSON: {e}"))?;
    let value = raw
        .token
        .filter(|t| !t.is_empty())
        .or(raw.access_token.filter(|t| !t.is_empty()))
        .ok_or("the token answer holds no \"token\" or \"access_token\"")?;
    let lifetime = raw.expires_in.unwrap_or(60).max(1);
    // Renew 10 s early (or at half-life for very short tokens).
    let margin = (lifetime / 2).min(10);
    Ok(Token {
        value,
        expires: now + Duration::from_secs(lifetime - margin),
    })
}

/// Tokens per (registry, sorted scopes).
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<(String, String), Token>>,
}

impl TokenCache {
    fn key(registry: &str, scopes: &[String]) -> (String, String) {
        let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
        s.sort_unstable();
        s.dedup();
        (registry.to_string(), s.join(" "))
    }

    /// A still-valid token for exactly these scopes.
    pub fn get(&self, registry: &str, scopes: &[String]) -> Option<String> {
        let map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&Self::key(registry, scopes))
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone())
    }

    pub fn put(&self, registry: &str, scopes: &[String], token: Token) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(Self::key(registry, scopes), token);
    }

    /// Forgets the token for these scopes (the registry refused it).
    pub fn forget(&self, registry: &str, scopes: &[String]) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(registry, scopes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_bearer() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            c,
            [Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }]
        );
    }

    #[test]
    fn parses_basic_and_odd_spellings() {
        assert_eq!(
            parse_challenges(r#"Basic realm="nook-test""#),
            [Challenge::Basic {
                realm: Some("nook-test".into())
            }]
        );
        assert_eq!(
            parse_challenges("basic"),
            [Challenge::Basic { realm: None }]
        );
        // Unquoted values, spaces around '=', escapes, upper-case keys.
        assert_eq!(
            parse_challenges(r#"BEARER Realm = http://h:1/token , service=svc, scope="a \"b\"""#),
            [Challenge::Bearer {
                realm: "http://h:1/token".into(),
                service: Some("svc".into()),
                scope: Some("a \"b\"".into()),
            }]
        );
        // Several challenges in one value; unknown schemes skipped; Bearer without realm dropped.
        let c = parse_challenges(
            r#"Negotiate abc, Basic realm="r", Bearer realm="https://t/x",service="s", Bearer service="x""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(matches!(c[0], Challenge::Basic { .. }));
        assert!(matches!(&c[1], Challenge::Bearer { realm, .. } if realm == "https://t/x"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("   ,  ").is_empty());
        assert!(matches!(
            pick_challenge([r#"Basic realm="a""#, r#"Bearer realm="b""#]),
            Some(Challenge::Bearer { .. })
        ));
        assert_eq!(pick_challenge(["Digest x=1"]), None);
    }

    #[test]
    fn scopes_merge_without_duplicates() {
        let ours = vec![repository_scope("a/b", true)];
        assert_eq!(ours[0], "repository:a/b:pull,push");
        assert_eq!(
            merge_scopes(&ours, Some("repository:a/b:pull,push repository:c:pull")),
            ["repository:a/b:pull,push", "repository:c:pull"]
        );
        assert_eq!(merge_scopes(&[], None), Vec::<String>::new());
    }

    #[test]
    fn tokens_parse_and_expire() {
        let now = Instant::now();
        let t = parse_token(br#"{"token":"abc","expires_in":300}"#, now).unwrap();
        assert_eq!(t.value, "abc");
        assert_eq!(t.expires, now + Duration::from_secs(290));
        let t = parse_token(br#"{"access_token":"x","token":""}"#, now).unwrap();
        assert_eq!(
            (t.value.as_str(), t.expires),
            ("x", now + Duration::from_secs(50))
        );
        assert!(parse_token(b"{}", now)
            .unwrap_err()
            .contains("no \"token\""));
        assert!(parse_token(b"<html>", now).unwrap_err().contains("JSON"));

        let cache = TokenCache::default();
        let scopes = vec!["b".to_string(), "a".to_string()];
        cache.put(
            "r",
            &scopes,
            Token {
                value: "v".into(),
                expires: Instant::now() + Duration::from_secs(5),
            },
        );
        assert_eq!(
            cache.get("r", &["a".into(), "b".into()]).as_deref(),
            Some("v")
        );
        assert_eq!(cache.get("r", &["a".into()]), None);
        assert_eq!(cache.get("other", &scopes), None);
        cache.put(
            "r",
            &[],
            Token {
                value: "old".into(),
                expires: Instant::now() - Duration::from_secs(1),
            },
        );
        assert_eq!(cache.get("r", &[]), None, "expired tokens are not used");
        cache.forget("r", &scopes);
        assert_eq!(cache.get("r", &scopes), None);
    }
}
