//! Who is calling (F-ID). API Gateway verifies HTTP tokens and hands us the
//! claims; the WebSocket authorizer verifies `?token=` and hands the same
//! claims on in its context. Both end up as a [`Caller`].

use crate::config::{JwtConfig, JwtKeys};
use crate::error::Error;
use crate::ids::UserId;
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The scope a token needs for service-only operations (F-ID-3).
pub const SERVICE_SCOPE: &str = "versus/service";

/// Roles that only a token can grant (F-ID-2); a profile can never hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivilegedRole {
    Admin,
    Service,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub privileged_role: Option<PrivilegedRole>,
    pub scopes: Vec<String>,
}

impl Caller {
    /// From the claims of a verified token (API Gateway renders every claim as a string).
    pub fn from_claims(claims: &HashMap<String, String>) -> Result<Self, Error> {
        let user_id = claims
            .get("sub")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Unauthorized("token has no subject".into()))?;
        let user_id = UserId::parse(user_id)
            .map_err(|_| Error::Unauthorized("token subject is not a valid user id".into()))?;
        let privileged_role = match claims.get("role").map(String::as_str) {
            Some("admin") => Some(PrivilegedRole::Admin),
            Some("service") => Some(PrivilegedRole::Service),
            _ => None,
        };
        let scopes = claims
            .get("scope")
            .map(|s| parse_scope_claim(s))
            .unwrap_or_default();
        Ok(Caller {
            user_id,
            privileged_role,
            scopes,
        })
    }

    pub fn is_admin(&self) -> bool {
        self.privileged_role == Some(PrivilegedRole::Admin)
    }

    /// F-ID-3: service scope, or the service role.
    pub fn is_service(&self) -> bool {
        self.privileged_role == Some(PrivilegedRole::Service)
            || self.scopes.iter().any(|s| s == SERVICE_SCOPE)
    }

    /// An admin, or 403 saying what only an admin may do.
    pub fn require_admin(&self, what: &str) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden(what.to_string()))
        }
    }

    pub fn require_service(&self) -> Result<(), Error> {
        if self.is_service() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this operation needs the {SERVICE_SCOPE} scope"
            )))
        }
    }

    /// The claims a WebSocket authorizer passes on as its context, so every
    /// later route on the connection sees the same caller.
    pub fn to_context(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut ctx = serde_json::Map::new();
        ctx.insert("sub".into(), self.user_id.as_str().into());
        if let Some(role) = self.privileged_role {
            ctx.insert(
                "role".into(),
                serde_json::to_value(role).unwrap_or_default(),
            );
        }
        if !self.scopes.is_empty() {
            ctx.insert("scope".into(), self.scopes.join(" ").into());
        }
        ctx
    }

    /// From a WebSocket route event's `requestContext.authorizer` fields.
    pub fn from_authorizer_context(
        fields: &HashMap<String, serde_json::Value>,
    ) -> Result<Self, Error> {
        let claims: HashMap<String, String> = fields
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect();
        Self::from_claims(&claims)
    }
}

/// API Gateway renders an array claim as `[a b]`; a plain scope claim is space separated.
fn parse_scope_claim(raw: &str) -> Vec<String> {
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn claim_string(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Array(items) => {
            let parts: Vec<String> = items.into_iter().map(claim_string).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// Verifies bearer tokens: HS256 with the dev secret locally, the issuer's
/// JWKS (RS256/ES256) when deployed. Keys are fetched lazily and cached.
#[derive(Clone)]
pub struct TokenVerifier {
    config: JwtConfig,
    http: reqwest::Client,
    jwks: Arc<RwLock<Option<(Instant, JwkSet)>>>,
}

const JWKS_REFRESH: Duration = Duration::from_secs(60);

impl TokenVerifier {
    pub fn new(config: JwtConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("a plain reqwest client always builds");
        TokenVerifier {
            config,
            http,
            jwks: Arc::new(RwLock::new(None)),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, Error> {
        Caller::from_claims(&self.verify_claims(token).await?)
    }

    /// Verifies the token and returns its claims the way API Gateway's JWT
    /// authorizer renders them: every value a string, arrays as `[a b]`.
    pub async fn verify_claims(&self, token: &str) -> Result<HashMap<String, String>, Error> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Unauthorized("missing token".into()));
        }
        let header =
            decode_header(token).map_err(|_| Error::Unauthorized("malformed token".into()))?;
        let (key, algorithm) = match &self.config.keys {
            JwtKeys::DevSecret(secret) => (
                DecodingKey::from_secret(secret.expose().as_bytes()),
                Algorithm::HS256,
            ),
            JwtKeys::Jwks { url } => {
                let kid = header
                    .kid
                    .clone()
                    .ok_or_else(|| Error::Unauthorized("token has no key id".into()))?;
                (self.jwk_for(url, &kid).await?, header.alg)
            }
        };
        if header.alg != algorithm
            || algorithm == Algorithm::HS256 && matches!(self.config.keys, JwtKeys::Jwks { .. })
        {
            return Err(Error::Unauthorized("token algorithm not accepted".into()));
        }
        let mut validation = Validation::new(algorithm);
        // API Gateway's JWT authorizer rules (F-ID-1): `iss` must be there and
        // match; `exp` must be there; `nbf` and `iat` are checked when present.
        // `aud` is checked below, because `client_id` stands in for it.
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        let data = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| Error::Unauthorized(format!("invalid token: {}", describe(&e))))?;
        let now = chrono::Utc::now().timestamp();
        check_audience(&data.claims, &self.config.audiences)?;
        check_issued_at(&data.claims, now, validation.leeway)?;
        Ok(data
            .claims
            .into_iter()
            .map(|(k, v)| (k, claim_string(v)))
            .collect())
    }

    async fn jwk_for(&self, url: &str, kid: &str) -> Result<DecodingKey, Error> {
        if let Some((_, set)) = self.jwks.read().await.as_ref() {
            if let Some(jwk) = set.find(kid) {
                return DecodingKey::from_jwk(jwk)
                    .map_err(|e| Error::internal(format!("jwk: {e}")));
            }
        }
        // Unknown key id: the issuer may have rotated; refetch, but not more than once a minute.
        let mut cache = self.jwks.write().await;
        let stale = cache
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= JWKS_REFRESH);
        if stale {
            let set: JwkSet = self
                .http
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(Error::dependency)?
                .json()
                .await
                .map_err(Error::dependency)?;
            *cache = Some((Instant::now(), set));
        }
        let (_, set) = cache.as_ref().expect("filled above");
        let jwk = set
            .find(kid)
            .ok_or_else(|| Error::Unauthorized("token signed with an unknown key".into()))?;
        DecodingKey::from_jwk(jwk).map_err(|e| Error::internal(format!("jwk: {e}")))
    }
}

/// `aud` (a string or a list) must name a configured audience; a token
/// without `aud` is judged by its `client_id` instead (Cognito access tokens),
/// exactly as API Gateway's JWT authorizer does.
fn check_audience(
    claims: &serde_json::Map<String, serde_json::Value>,
    audiences: &[String],
) -> Result<(), Error> {
    use serde_json::Value;
    let accepted = |v: &Value| v.as_str().is_some_and(|a| audiences.iter().any(|c| c == a));
    let ok = match claims.get("aud") {
        Some(Value::Array(items)) => items.iter().any(accepted),
        Some(aud) => accepted(aud),
        None => claims.get("client_id").is_some_and(accepted),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Unauthorized("invalid token: wrong audience".into()))
    }
}

/// `iat`, when present, must be a time that has already come.
fn check_issued_at(
    claims: &serde_json::Map<String, serde_json::Value>,
    now: i64,
    leeway: u64,
) -> Result<(), Error> {
    match claims.get("iat") {
        None => Ok(()),
        Some(iat) => match iat.as_f64() {
            Some(at) if at <= (now as f64) + leeway as f64 => Ok(()),
            Some(_) => Err(Error::Unauthorized(
                "invalid token: issued in the future".into(),
            )),
            None => Err(Error::Unauthorized("invalid token: malformed".into())),
        },
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "expired",
        InvalidIssuer => "wrong issuer",
        InvalidAudience => "wrong audience",
        InvalidSignature => "bad signature",
        ImmatureSignature => "not valid yet",
        MissingRequiredClaim(_) => "missing claim",
        _ => "malformed",
    }
}

/// Mints HS256 dev tokens (tests and the local tooling; never used deployed).
pub fn mint_dev_token(secret: &str, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 encoding of a JSON object cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(JwtConfig {
            keys: JwtKeys::DevSecret("s3cr3t".into()),
            issuer: "versus-local".into(),
            audiences: vec!["versus".into(), "web-client".into()],
        })
    }

    fn exp() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    #[tokio::test]
    async fn good_token_gives_caller() {
        let t = mint_dev_token(
            "s3cr3t",
            &json!({"sub":"u1","iss":"versus-local","aud":"versus","exp":exp(),"scope":"versus/service other"}),
        );
        let c = verifier().verify(&t).await.unwrap();
        assert_eq!(c.user_id, "u1");
        assert!(c.is_service());
    }

    #[tokio::test]
    async fn bad_tokens_refused() {
        let v = verifier();
        let wrong_secret = mint_dev_token(
            "nope",
            &json!({"sub":"u1","iss":"versus-local","aud":"versus","exp":exp()}),
        );
        let expired = mint_dev_token(
            "s3cr3t",
            &json!({"sub":"u1","iss":"versus-local","aud":"versus","exp":1000}),
        );
        let wrong_aud = mint_dev_token(
            "s3cr3t",
            &json!({"sub":"u1","iss":"versus-local","aud":"x","exp":exp()}),
        );
        let no_sub = mint_dev_token(
            "s3cr3t",
            &json!({"iss":"versus-local","aud":"versus","exp":exp()}),
        );
        for t in [
            wrong_secret,
            expired,
            wrong_aud,
            no_sub,
            "garbage".into(),
            String::new(),
        ] {
            let err = v.verify(&t).await.unwrap_err();
            assert_eq!(err.status(), 401, "token {t:?} gave {err:?}");
        }
    }

    /// F-ID-1: API Gateway's JWT authorizer rules, one forged claim at a time.
    #[tokio::test]
    async fn authorizer_rules_hold() {
        let v = verifier();
        let now = chrono::Utc::now().timestamp();
        let good = json!({"sub":"u1","iss":"versus-local","aud":"versus","exp":exp()});
        let with = |patch: serde_json::Value| {
            let mut c = good.clone();
            for (k, val) in patch.as_object().unwrap() {
                if val.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = val.clone();
                }
            }
            mint_dev_token("s3cr3t", &c)
        };
        let refused = [
            ("no aud", json!({"aud": null})),
            (
                "no aud, foreign client_id",
                json!({"aud": null, "client_id": "other"}),
            ),
            ("no iss", json!({"iss": null})),
            ("other issuer", json!({"iss": "https://evil.example.com"})),
            ("other audience", json!({"aud": "other"})),
            ("audience list without ours", json!({"aud": ["a", "b"]})),
            ("nbf a day ahead", json!({"nbf": now + 86_400})),
            ("iat a day ahead", json!({"iat": now + 86_400})),
            ("iat not a number", json!({"iat": "yesterday"})),
            ("no exp", json!({"exp": null})),
            ("expired", json!({"exp": now - 3600})),
        ];
        for (what, patch) in refused {
            let err = v.verify(&with(patch)).await.unwrap_err();
            assert_eq!(err.status(), 401, "{what} was accepted");
        }
        let accepted = [
            ("aud", json!({})),
            ("aud list with ours", json!({"aud": ["x", "web-client"]})),
            (
                "client_id without aud",
                json!({"aud": null, "client_id": "web-client"}),
            ),
            (
                "nbf and iat past",
                json!({"nbf": now - 10, "iat": now - 10}),
            ),
        ];
        for (what, patch) in accepted {
            assert!(v.verify(&with(patch)).await.is_ok(), "{what} was refused");
        }
        // alg none: an unsigned token.
        use base64::Engine;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let unsigned = format!(
            "{}.{}.",
            b64(json!({"alg":"none","typ":"JWT"})),
            b64(good.clone())
        );
        assert_eq!(v.verify(&unsigned).await.unwrap_err().status(), 401);
    }

    #[test]
    fn privileged_roles_only_from_claims() {
        let claims = HashMap::from([
            ("sub".to_string(), "u".to_string()),
            ("role".to_string(), "explorer".to_string()),
        ]);
        let c = Caller::from_claims(&claims).unwrap();
        assert_eq!(c.privileged_role, None);
        assert!(c.require_service().is_err());
        let claims = HashMap::from([
            ("sub".to_string(), "u".to_string()),
            ("scope".to_string(), "[versus/service openid]".to_string()),
        ]);
        assert!(Caller::from_claims(&claims).unwrap().is_service());
    }

    #[test]
    fn context_round_trips() {
        let c = Caller {
            user_id: UserId::parse("u9").unwrap(),
            privileged_role: Some(PrivilegedRole::Admin),
            scopes: vec!["a".into()],
        };
        let fields: HashMap<String, serde_json::Value> = c.to_context().into_iter().collect();
        assert_eq!(Caller::from_authorizer_context(&fields).unwrap(), c);
    }

    #[test]
    fn user_ids_with_key_separators_rejected() {
        let claims = HashMap::from([("sub".to_string(), "a#b".to_string())]);
        assert!(Caller::from_claims(&claims).is_err());
    }
}
