//! OpenID Connect Discovery against real loopback servers.
