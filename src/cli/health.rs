//! `health`: a container health probe that needs no curl. GETs `/_mock/health` (or
//! `/_mock/ready`) of a running `serve` and exits 0 when it answers 2xx, 1 otherwise.
//!
//! A `--url` with a path other than `/` is requested as given, so the same probe serves the
//! reference receiver (`http://127.0.0.1:8026/health`) or a consumer's own endpoint.

use std::time::Duration;

use url::Url;

use super::{CliError, exit};

/// Options of `health`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the mock; a URL with a path (e.g. http://127.0.0.1:8026/health) is requested
    /// as given.
    #[arg(
        long,
        env = "INBOXKIT_MOCK_HEALTH_URL",
        default_value = "http://127.0.0.1:8025"
    )]
    url: String,
    /// Ask `/_mock/ready` (503 while starting or shutting down) instead of `/_mock/health`.
    #[arg(long)]
    ready: bool,
    /// Give up after this long (connect and answer together).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// The URL `health` requests: `url` itself when it has a path, else its `/_mock/health` or
/// `/_mock/ready`.
fn probe_url(url: &str, ready: bool) -> Result<Url, CliError> {
    let base = Url::parse(url).map_err(|e| CliError::usage(format!("--url `{url}`: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(CliError::usage(format!(
            "--url `{url}`: only http and https URLs can be probed"
        )));
    }
    if base.path() != "/" {
        if ready {
            return Err(CliError::usage(
                "--ready chooses /_mock/ready; pass --url without a path to use it",
            ));
        }
        return Ok(base);
    }
    let path = if ready {
        "/_mock/ready"
    } else {
        "/_mock/health"
    };
    base.join(path)
        .map_err(|e| CliError::usage(format!("--url `{url}`: {e}")))
}

/// Probes once; prints one line and returns 0 (a 2xx answer) or 1 (anything else).
pub async fn run(args: Args) -> Result<u8, CliError> {
    let url = probe_url(&args.url, args.ready)?;
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .connect_timeout(args.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Runtime(anyhow::anyhow!("building the HTTP client: {e}")))?;
    match client.get(url.clone()).send().await {
        Ok(response) if response.status().is_success() => {
            println!("healthy: {url} answered {}", response.status().as_u16());
            Ok(exit::OK)
        }
        Ok(response) => {
            println!("unhealthy: {url} answered {}", response.status().as_u16());
            Ok(exit::REJECTED)
        }
        Err(error) => {
            let why = if error.is_timeout() {
                format!(
                    "no answer within {}",
                    humantime::format_duration(args.timeout)
                )
            } else if error.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            };
            println!("unhealthy: {url}: {why}");
            Ok(exit::REJECTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_control_path() {
        let url = probe_url("http://127.0.0.1:8025", false).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8025/_mock/health");
        let url = probe_url("http://mock:8025/", true).unwrap();
        assert_eq!(url.as_str(), "http://mock:8025/_mock/ready");
    }

    #[test]
    fn a_url_with_a_path_is_requested_as_given() {
        let url = probe_url("http://127.0.0.1:8026/health", false).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8026/health");
        assert!(matches!(
            probe_url("http://127.0.0.1:8026/health", true),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn malformed_urls_are_usage_errors() {
        assert!(matches!(
            probe_url("not a url", false),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            probe_url("ftp://127.0.0.1/", false),
            Err(CliError::Usage(_))
        ));
    }
}
