//! The mock Next Identity provider, over real sockets, against its
//! documentation and the OpenID specifications. One test binary; each file
//! is a topic.

mod backchannel;
mod code_flow;
mod discovery;
mod endsession;
mod frontchannel;
mod hosted_pages;
mod logout_tokens;
mod revocation;
mod server;
mod support;
