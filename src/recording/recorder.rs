//! Appends recorded requests to a JSON Lines file, safely from concurrent handlers.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::redact::redact_credentials;
use super::verdicts::SignatureVerdicts;
use super::{RecordedRequest, RecordingError};

type Sink = BufWriter<Box<dyn Write + Send>>;

/// Writes one line per request. Cheap to clone; clones share one file.
///
/// Each line is serialized, written and flushed under one lock, so lines from concurrent
/// handlers never interleave and a crash loses at most the line being written. The write is a
/// short blocking call; at webhook rates that is cheaper than a writer task and keeps errors
/// with the caller.
#[derive(Clone)]
pub struct Recorder {
    sink: Arc<Mutex<Sink>>,
    keep_credentials: bool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("keep_credentials", &self.keep_credentials)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Appends to `path`, creating it if needed. Credentials are redacted unless
    /// `keep_credentials`.
    pub fn create(path: &Path, keep_credentials: bool) -> Result<Self, RecordingError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| RecordingError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Recorder::to_writer(file, keep_credentials))
    }

    /// Writes to any sink (a buffer in tests, standard output).
    pub fn to_writer(writer: impl Write + Send + 'static, keep_credentials: bool) -> Self {
        Recorder {
            sink: Arc::new(Mutex::new(BufWriter::new(Box::new(writer)))),
            keep_credentials,
        }
    }

    /// Whether credentials are written as received.
    pub fn keeps_credentials(&self) -> bool {
        self.keep_credentials
    }

    /// Records a request that arrived now, exactly as received.
    ///
    /// `headers` are every request header in arrival order, `body` the raw body bytes, and
    /// `verdicts` the signature check under each scheme (see
    /// [`SignatureKeys::verdicts_for`](super::SignatureKeys::verdicts_for)).
    pub fn record(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        verdicts: SignatureVerdicts,
    ) -> Result<(), RecordingError> {
        let mut request = RecordedRequest::new(Utc::now(), method, path, headers, body, verdicts);
        if !self.keep_credentials
            && let Some(redacted) = redact_credentials(body)
        {
            request.body = Some(String::from_utf8(redacted).expect("serde_json writes UTF-8"));
            request.body_base64 = None;
            request.credentials_redacted = true;
        }
        self.write(&request)
    }

    /// Appends an already built line as is (no redaction).
    pub fn write(&self, request: &RecordedRequest) -> Result<(), RecordingError> {
        let mut line = serde_json::to_vec(request).expect("recorded requests serialize");
        line.push(b'\n');
        // A handler that panicked mid-write cannot leave a half line in the buffer: the line is
        // written with one call, so the lock's data is usable after poisoning.
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sink.write_all(&line)?;
        sink.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{REDACTED, read_lines};

    /// A cloneable in-memory sink.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn concurrent_records_give_whole_lines() {
        let buffer = Shared::default();
        let recorder = Recorder::to_writer(buffer.clone(), false);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let body = format!(r#"{{"event":"e","n":{t},"i":{i}}}"#);
                        recorder
                            .record("POST", "/webhook", &[], body.as_bytes(), Default::default())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let bytes = buffer.0.lock().unwrap().clone();
        let lines: Vec<_> = read_lines(bytes.as_slice()).collect();
        assert_eq!(lines.len(), 400);
        assert!(lines.iter().all(|(_, line)| line.is_ok()));
    }

    #[test]
    fn credentials_are_redacted_unless_kept() {
        let body = br#"{"data":{"mailbox":{"password":"hunter2"}}}"#;
        for keep in [false, true] {
            let buffer = Shared::default();
            Recorder::to_writer(buffer.clone(), keep)
                .record("POST", "/", &[], body, Default::default())
                .unwrap();
            let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            assert_eq!(text.contains("hunter2"), keep, "{text}");
            assert_eq!(text.contains(REDACTED), !keep, "{text}");
            assert_eq!(text.contains(r#""credentials_redacted":true"#), !keep);
        }
    }
}
