//! Credentials for BigQuery: a service-account key file, Application
//! Default Credentials (which read `GOOGLE_APPLICATION_CREDENTIALS` first,
//! then the metadata server), or none at all for an emulator.
//!
//! The same authenticator signs the BigQuery client's calls and the load
//! uploads Slate sends itself, so both use one token cache.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::yup_oauth2;

/// The OAuth scope BigQuery needs.
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// Where credentials come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// else the instance metadata server.
    ApplicationDefault,
    /// A service-account key file.
    KeyFile(PathBuf),
    /// No credentials: an emulator, which ignores the token.
    Emulator,
}

/// An authenticator for `credentials`.
pub async fn authenticator(credentials: &Credentials) -> Result<Arc<dyn Authenticator>, BQError> {
    let inner = match credentials {
        Credentials::Emulator => return Ok(Arc::new(EmulatorToken)),
        Credentials::KeyFile(path) => {
            let key = yup_oauth2::read_service_account_key(path)
                .await
                .map_err(BQError::InvalidServiceAccountKey)?;
            yup_oauth2::ServiceAccountAuthenticator::builder(key)
                .build()
                .await
                .map_err(BQError::InvalidServiceAccountAuthenticator)?
        }
        Credentials::ApplicationDefault => {
            let options = yup_oauth2::ApplicationDefaultCredentialsFlowOpts::default();
            match yup_oauth2::ApplicationDefaultCredentialsAuthenticator::builder(options).await {
                yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::ServiceAccount(
                    builder,
                ) => builder.build().await,
                yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::InstanceMetadata(
                    builder,
                ) => builder.build().await,
            }
            .map_err(BQError::InvalidApplicationDefaultCredentialsAuthenticator)?
        }
    };
    Ok(Arc::new(OAuthToken { inner }))
}

/// A fixed token for an emulator.
#[derive(Clone)]
struct EmulatorToken;

#[async_trait]
impl Authenticator for EmulatorToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("emulator".to_string())
    }
}

/// An OAuth token from Google, cached and refreshed by yup-oauth2.
#[derive(Clone)]
struct OAuthToken {
    inner: yup_oauth2::authenticator::DefaultAuthenticator,
}

#[async_trait]
impl Authenticator for OAuthToken {
    async fn access_token(&self) -> Result<String, BQError> {
        let token = self.inner.token(&[SCOPE]).await?;
        token.token().map(str::to_string).ok_or(BQError::NoToken)
    }
}
