//! A correct webhook consumer to run `inboxkit-mock check` against:
//!
//! ```text
//! cargo run --example consumer_correct -- --port 9000 --secret S
//! inboxkit-mock check --target http://127.0.0.1:9000/webhook --secret S \
//!     --processed-url http://127.0.0.1:9000/processed
//! ```

#[path = "consumers/correct.rs"]
mod correct;
#[path = "consumers/options.rs"]
mod options;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (port, key) = options::Options::parse_or_exit();
    let key = match key {
        options::KeyChoice::Secret(secret) => correct::Key::WebhookSecret(secret),
        options::KeyChoice::ApiKey(api_key) => correct::Key::ApiKey(api_key),
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    println!(
        "correct consumer: POST http://{addr}/webhook, processed count at http://{addr}/processed"
    );
    correct::start(listener, key)?.await
}
