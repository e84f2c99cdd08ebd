//! Bearer-token authentication. Every mutating endpoint requires the token;
//! read-only endpoints require it only when configured to. Tokens are
//! compared as SHA-256 digests in constant time, so the comparison takes
//! the same time whatever the token sent and however much of it matches.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::errors::ApiError;

/// The configured token, kept only as its digest.
#[derive(Clone)]
pub struct BearerToken {
    digest: [u8; 32],
}

impl BearerToken {
    /// The token `secret`; surrounding whitespace (a file's trailing
    /// newline) is not part of it.
    pub fn new(secret: &str) -> Self {
        BearerToken {
            digest: Sha256::digest(secret.trim().as_bytes()).into(),
        }
    }

    /// Whether `candidate` is the token, compared in constant time.
    pub fn matches(&self, candidate: &str) -> bool {
        let candidate: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        constant_time_eq(&self.digest, &candidate)
    }

    /// Checks a request's `Authorization: Bearer <token>` header, which
    /// must be given once: of two, which one a proxy or a server reads is
    /// anyone's guess.
    pub fn check(&self, request: &Request) -> Result<(), ApiError> {
        if request
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .count()
            > 1
        {
            return Err(ApiError::bad_field(
                "authorization",
                "the authorization header is given more than once: send it once",
            ));
        }
        let value = request
            .headers()
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
            })?;
        // The scheme's name is case-insensitive (RFC 9110 11.1).
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or_else(|| {
                ApiError::unauthorized("the authorization header is not `Bearer <token>`")
            })?;
        if self.matches(token.trim()) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("wrong bearer token"))
        }
    }
}

/// Equal-length byte strings compared without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// Middleware: rejects the request with 401 unless it carries the token.
pub async fn require_token(
    State(token): State<BearerToken>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    token.check(&request)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = BearerToken::new("s3cret\n");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret "));
        assert!(!token.matches(""));
    }
}
