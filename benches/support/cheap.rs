//! The cheap subscriber: nginx with a generated config (one worker, `return 200`, no access
//! log, keep-alive for as long as the bench runs), or, when nginx is not installed, the
//! in-bench sink on a thread of its own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cpu;
use super::support_sink;

/// Name of the fallback sink's thread, whose CPU time is the subscriber's.
const SINK_THREAD: &str = "cheap-sink";

/// A running cheap subscriber.
pub enum Cheap {
    /// nginx, one process (no master), started by the bench.
    Nginx {
        child: Child,
        dir: PathBuf,
        port: u16,
    },
    /// The in-bench sink (support/sink.rs) on its own current-thread runtime.
    Sink { port: u16 },
}

impl Cheap {
    /// nginx when it is found (on the PATH or in /usr/sbin), else the in-bench sink.
    pub fn start() -> Cheap {
        match nginx_binary() {
            Some(nginx) => match start_nginx(&nginx) {
                Ok(cheap) => return cheap,
                Err(error) => eprintln!(
                    "\n*** nginx at {} did not start ({error}); FALLING BACK to the in-bench sink ***\n",
                    nginx.display()
                ),
            },
            None => eprintln!(
                "\n*** nginx is not installed (Debian: apt-get install nginx-light); FALLING BACK to \
                 the in-bench sink: its figures are not nginx's ***\n"
            ),
        }
        start_sink()
    }

    /// What to print as the subscriber's name.
    pub fn describe(&self) -> &'static str {
        match self {
            Cheap::Nginx { .. } => "nginx (1 worker, return 200, access_log off)",
            Cheap::Sink { .. } => "the in-bench sink (nginx not found)",
        }
    }

    /// The URL deliveries go to.
    pub fn url(&self) -> String {
        let port = match self {
            Cheap::Nginx { port, .. } | Cheap::Sink { port } => port,
        };
        format!("http://127.0.0.1:{port}/webhook")
    }

    /// CPU time the subscriber has used so far.
    pub fn cpu(&self) -> Duration {
        match self {
            Cheap::Nginx { child, .. } => cpu::process(child.id()),
            Cheap::Sink { .. } => cpu::threads(SINK_THREAD),
        }
    }

    /// Stops nginx (the sink thread ends with the bench).
    pub fn stop(self) {
        if let Cheap::Nginx { mut child, dir, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn start_nginx(nginx: &std::path::Path) -> Result<Cheap, String> {
    let dir =
        std::env::temp_dir().join(format!("inboxkit-mock-bench-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let d = dir.display();
    let config = format!(
        "worker_processes 1;\n\
         daemon off;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log crit;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 keepalive_requests 100000000;\n\
         \x20 keepalive_timeout 600s;\n\
         \x20 client_body_buffer_size 64k;\n\
         \x20 client_body_temp_path {d}/body;\n\
         \x20 proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n\
         \x20 uwsgi_temp_path {d}/uwsgi;\n\
         \x20 scgi_temp_path {d}/scgi;\n\
         \x20 server {{ listen 127.0.0.1:{port}; location / {{ return 200; }} }}\n\
         }}\n"
    );
    let file = dir.join("nginx.conf");
    std::fs::write(&file, config).map_err(|e| e.to_string())?;
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}"));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Cheap::Nginx { child, dir, port });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err("not listening after 10 s".to_owned())
}

fn start_sink() -> Cheap {
    Cheap::Sink {
        port: support_sink::start_on_thread(SINK_THREAD),
    }
}
