//! A buggy webhook consumer that `inboxkit-mock check` fails on three named checks:
//!
//! ```text
//! cargo run --example consumer_buggy -- --port 9001 --secret S
//! inboxkit-mock check --target http://127.0.0.1:9001/webhook --secret S \
//!     --processed-url http://127.0.0.1:9001/processed
//! ```

#[path = "consumers/buggy.rs"]
mod buggy;
#[path = "consumers/options.rs"]
mod options;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (port, key) = options::Options::parse_or_exit();
    let key = match key {
        options::KeyChoice::Secret(secret) => buggy::Key::WebhookSecret(secret),
        options::KeyChoice::ApiKey(api_key) => buggy::Key::ApiKey(api_key),
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    println!(
        "buggy consumer: POST http://{addr}/webhook, processed count at http://{addr}/processed"
    );
    buggy::start(listener, key)?.await
}
