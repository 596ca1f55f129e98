//! The embedded mock provider (tower-oidc-logout-mock), started when no
//! external provider is set, with the demo registered as its client.

use tokio::net::TcpListener;
use tower_oidc_logout_mock::{MockClient, MockProvider};

use crate::settings::{self, Settings, SettingsError, bad};

/// Starts the mock at `url` (its issuer too), on `listener` or bound from `url`.
pub(crate) async fn start(
    settings: &Settings,
    url: &str,
    listener: Option<TcpListener>,
) -> Result<MockProvider, SettingsError> {
    let listener = match listener {
        Some(listener) => listener,
        None => settings::bind("MOCK_PROVIDER_URL", url).await?,
    };
    let mut client = MockClient::new(&settings.client_id)
        .redirect_uri(settings.redirect_uri())
        .post_logout_redirect_uri(settings.post_logout_redirect_uri())
        // Back-channel only: with a front-channel URI registered, the mock's
        // /endsession answers with an iframe page that continues after a delay,
        // instead of the redirect the sign-out flow shows. The app still serves
        // FRONTCHANNEL_PATH, for a provider that has it registered.
        .backchannel_logout_uri(settings.backchannel_logout_uri());
    if let Some(secret) = &settings.client_secret {
        client = client.secret(secret);
    }
    MockProvider::builder()
        // The URL the browser uses (it binds 127.0.0.1 but is called localhost).
        .issuer(url)
        .register(client)
        .serve_on(listener)
        .await
        .map_err(|e| bad("MOCK_PROVIDER_URL", e.to_string()))
}
