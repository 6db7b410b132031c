//! The real registry fixture: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1,
//! optionally behind htpasswd basic auth, plus a tiny HTTP client to talk to it.
//!
//! [`Registry::start`] writes a config and storage dir under the given directory, starts
//! `docker-registry serve config.yml` on a free port and waits until `GET /v2/` answers
//! (200, or 401 with auth). The process is spawned from a keeper thread with
//! `PR_SET_PDEATHSIG`, so it dies with the test process even if teardown never runs;
//! teardown stops it by PID ([`Registry::stop`]: kill + wait).

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Where Debian's `docker-registry` package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One running registry process.
pub struct Registry {
    host: String,
    pid: u32,
    child: Mutex<Option<Child>>,
    log: PathBuf,
    auth: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry with its config, storage and log under `dir`; with `auth`, it
    /// requires basic auth for that user and password (bcrypt htpasswd).
    pub fn start(dir: &Path, auth: Option<(&str, &str)>) -> Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bail!("{REGISTRY_BIN} not found: install the Debian package docker-registry (./test.sh as root does)");
        }
        std::fs::create_dir_all(dir.join("storage"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let auth_yaml = match auth {
            Some((user, pass)) => {
                let htpasswd = dir.join("htpasswd");
                std::fs::write(&htpasswd, htpasswd_line(user, pass)?)
                    .with_context(|| format!("writing {}", htpasswd.display()))?;
                format!(
                    "auth:\n  htpasswd:\n    realm: nook-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        let mut last_err = anyhow!("no attempt made");
        // A free port can be taken between probing and binding: retry a few times.
        for _attempt in 0..4 {
            let port = free_port()?;
            let config = dir.join("config.yml");
            let yaml = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: nook-test-secret\n{auth_yaml}",
                storage = dir.join("storage").display(),
            );
            std::fs::write(&config, yaml)
                .with_context(|| format!("writing {}", config.display()))?;
            let log = dir.join("registry.log");
            match Self::spawn(&config, &log, port, auth) {
                Ok(reg) => return Ok(reg),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn spawn(config: &Path, log: &Path, port: u16, auth: Option<(&str, &str)>) -> Result<Registry> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(REGISTRY_BIN);
        cmd.arg("serve")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = spawn_kept(cmd).with_context(|| format!("starting {REGISTRY_BIN}"))?;
        let reg = Registry {
            host: format!("127.0.0.1:{port}"),
            pid: child.id(),
            child: Mutex::new(Some(child)),
            log: log.to_path_buf(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        let want = if auth.is_some() { 401 } else { 200 };
        let http = reg.anonymous();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = reg.exited() {
                bail!(
                    "registry on port {port} exited early ({status}); its log:\n{}",
                    reg.log_text()
                );
            }
            match http.get("/v2/", &[]) {
                Ok(r) if r.status == want => return Ok(reg),
                Ok(r) if Instant::now() > deadline => {
                    reg.stop();
                    bail!(
                        "registry on port {port}: GET /v2/ answered {} (want {want}); its log:\n{}",
                        r.status,
                        reg.log_text()
                    );
                }
                Err(e) if Instant::now() > deadline => {
                    reg.stop();
                    bail!(
                        "registry on port {port} not answering after {START_TIMEOUT:?}: {e:#}; its log:\n{}",
                        reg.log_text()
                    );
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> &str {
        &self.host
    }
    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }
    pub fn pid(&self) -> u32 {
        self.pid
    }
    /// The user and password this registry requires, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }
    /// The registry's log so far (for error messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// The requests with `method` whose URI contains `uri_part`, from the registry's own
    /// "response completed" log lines (`http.request.method=GET ... http.request.uri="..."`).
    pub fn requests(&self, method: &str, uri_part: &str) -> Vec<String> {
        requests_in(&self.settled_log(), method, uri_part)
    }

    /// The log once it stopped growing for 150 ms (at most 3 s): the registry logs a request
    /// after answering it, so a client can finish before its line is written.
    pub fn settled_log(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut last = self.log_text();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.log_text();
            if now == last || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }

    /// A client that sends this registry's credentials (if any).
    pub fn http(&self) -> Http {
        let mut h = self.anonymous();
        if let Some((u, p)) = self.credentials() {
            h.auth = Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        }
        h
    }
    /// A client without credentials.
    pub fn anonymous(&self) -> Http {
        Http::new(&format!("http://{}", self.host))
    }

    fn exited(&self) -> Option<String> {
        let mut guard = self.child.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }

    /// Stops the process by PID (kill + wait). Idempotent.
    pub fn stop(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The requests with `method` whose URI contains `uri_part` in a registry log text
/// (distribution's "response completed" lines: `http.request.method=PUT ...
/// http.request.uri="/v2/..."`).
pub fn requests_in(log: &str, method: &str, uri_part: &str) -> Vec<String> {
    let method = format!("http.request.method={method} ");
    log.lines()
        .filter(|l| l.contains(&method) && l.contains(uri_part))
        .map(str::to_string)
        .collect()
}

/// Spawns `cmd` from a thread that lives as long as the process, with PR_SET_PDEATHSIG, so
/// the child is killed if the test process dies without running teardown.
fn spawn_kept(mut cmd: Command) -> Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    });
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    keeper
        .lock()
        .map_err(|_| anyhow!("registry keeper thread lock poisoned"))?
        .send((cmd, tx))
        .map_err(|_| anyhow!("registry keeper thread is gone"))?;
    Ok(rx
        .recv()
        .context("registry keeper thread did not answer")??)
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr()?.port())
}

/// `htpasswd -Bbn USER PASS` (bcrypt: the only hash distribution accepts).
fn htpasswd_line(user: &str, pass: &str) -> Result<String> {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .context(
            "running htpasswd: install the Debian package apache2-utils (./test.sh as root does)",
        )?;
    if !out.status.success() {
        bail!(
            "htpasswd -Bbn failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string() + "\n")
}

/// Standard base64 with padding (for the basic auth header).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A minimal HTTP client for registry calls (statuses are returned, not turned into errors).
pub struct Http {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
}

/// One HTTP answer, body read in full.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("registry answer is not JSON")
    }
    /// Fails unless the status is `want`, quoting the body.
    pub fn expect(self, want: u16, what: &str) -> Result<Reply> {
        if self.status != want {
            bail!(
                "{what}: HTTP {} (want {want}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        Ok(self)
    }
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .max_redirects(0)
            .build()
            .new_agent();
        Http {
            agent,
            base: base.to_string(),
            auth: None,
        }
    }

    /// `path` (`/v2/...`) or an absolute URL (a `Location` header) to a full URL.
    pub fn full_url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    pub fn get(&self, path: &str, accept: &[&str]) -> Result<Reply> {
        self.call("GET", path, &accept.join(", "), None)
    }
    pub fn head(&self, path: &str, accept: &[&str]) -> Result<Reply> {
        self.call("HEAD", path, &accept.join(", "), None)
    }
    pub fn post(&self, path: &str) -> Result<Reply> {
        self.call("POST", path, "", Some(("", Vec::new())))
    }
    pub fn put(&self, path: &str, content_type: &str, body: Vec<u8>) -> Result<Reply> {
        self.call("PUT", path, "", Some((content_type, body)))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Reply> {
        let url = self.full_url(path);
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept-Encoding", "identity");
        if !accept.is_empty() {
            req = req.header("Accept", accept);
        }
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let run = match body {
            Some((content_type, bytes)) => {
                if !content_type.is_empty() {
                    req = req.header("Content-Type", content_type);
                }
                req.body(bytes).map(|r| self.agent.run(r))
            }
            None => req.body(()).map(|r| self.agent.run(r)),
        };
        let mut resp = run
            .with_context(|| format!("building {method} {url}"))?
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = Vec::new();
        if method != "HEAD" {
            resp.body_mut()
                .as_reader()
                .read_to_end(&mut body)
                .with_context(|| format!("reading the body of {method} {url}"))?;
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}
