//! Command-line options shared by the example consumers.

/// `--port P` and one of `--secret S` (seed docs) or `--api-key K` (newer docs).
#[derive(Debug, clap::Parser)]
pub struct Options {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Webhook secret: verify HMAC-SHA256 over the raw body.
    #[arg(
        long,
        env = "CONSUMER_SECRET",
        hide_env_values = true,
        conflicts_with = "api_key"
    )]
    pub secret: Option<String>,
    /// Team API key: verify SHA-256 of the key.
    #[arg(long, env = "CONSUMER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// The key the consumer verifies signatures with.
pub enum KeyChoice {
    /// `--secret`.
    Secret(String),
    /// `--api-key`.
    ApiKey(String),
}

impl Options {
    /// Parses the command line into the port and the key, exiting with a message (64) when no
    /// key is given.
    pub fn parse_or_exit() -> (u16, KeyChoice) {
        let options = <Options as clap::Parser>::parse();
        match (options.secret, options.api_key) {
            (Some(secret), _) => (options.port, KeyChoice::Secret(secret)),
            (None, Some(api_key)) => (options.port, KeyChoice::ApiKey(api_key)),
            (None, None) => {
                eprintln!("error: pass --secret S (hmac-body) or --api-key K (api-key-sha256)");
                std::process::exit(64);
            }
        }
    }
}
