//! A real browser for tests of generated pages: Debian's headless Chromium opens a page, takes a
//! screenshot, and gives back the DOM after scripts ran and every console message it logged.
//!
//! Chromium is run twice on the page (it does one of `--screenshot` and `--dump-dom` per run),
//! each time with a fresh profile directory and with networking, sync and component updates off,
//! so nothing leaks between runs and nothing is fetched. Console output is read from Chromium's
//! stderr log (`--enable-logging=stderr`), whose `CONSOLE` lines carry `console.*` calls and
//! uncaught exceptions alike but not their level — so every console message counts: a page under
//! test is expected to be silent. Without `/usr/bin/chromium` the check fails and names the Debian
//! package to install; it never skips.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium run may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(90);

/// What the browser saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageCheck {
    /// The DOM after the page loaded and its scripts ran, serialised.
    pub dom: String,
    /// Every console message and uncaught exception, as `"message", source: URL (line)`.
    pub console_errors: Vec<String>,
}

/// Why a page could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium is not installed.
    #[error(
        "{} not found: install Debian's chromium package \
         (apt-get update && apt-get install -y --no-install-recommends chromium)",
        path.display()
    )]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// The page file does not exist.
    #[error("html_path: page {} does not exist", path.display())]
    NoPage {
        /// The path given.
        path: PathBuf,
    },
    /// A file or directory could not be used.
    #[error("{doing}: {source}")]
    Io {
        /// What was being done.
        doing: String,
        /// The error.
        source: std::io::Error,
    },
    /// Chromium ran longer than the timeout and was killed.
    #[error("chromium ({run}) ran over {}s and was killed", TIMEOUT.as_secs())]
    Timeout {
        /// Which run (`dump-dom` or `screenshot`).
        run: &'static str,
    },
    /// Chromium exited unsuccessfully.
    #[error("chromium ({run}) failed with {status}: {stderr}")]
    Failed {
        /// Which run.
        run: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its stderr.
        stderr: String,
    },
    /// Chromium exited but wrote no screenshot.
    #[error("screenshot: chromium wrote no screenshot at {}", path.display())]
    NoScreenshot {
        /// Where it should be.
        path: PathBuf,
    },
}

fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrowserError {
    let doing = doing.into();
    move |source| BrowserError::Io { doing, source }
}

/// Opens `html_path` in headless Chromium: writes a 1280×2400 screenshot to `screenshot`
/// (creating its directory) and returns the DOM and the console messages.
pub fn check_page(html_path: &Path, screenshot: &Path) -> Result<PageCheck, BrowserError> {
    let chromium = Path::new(CHROMIUM);
    if !chromium.exists() {
        return Err(BrowserError::Missing {
            path: chromium.to_path_buf(),
        });
    }
    if !html_path.is_file() {
        return Err(BrowserError::NoPage {
            path: html_path.to_path_buf(),
        });
    }
    let page =
        fs::canonicalize(html_path).map_err(io(format!("resolving {}", html_path.display())))?;
    let url = format!("file://{}", page.display());

    let (dom, log) = run(
        "dump-dom",
        &["--enable-logging=stderr", "--v=0", "--dump-dom"],
        &url,
    )?;
    let console_errors = log
        .lines()
        .filter_map(|line| line.split_once(":CONSOLE"))
        .filter_map(|(_, rest)| rest.split_once("] "))
        .map(|(_, message)| message.to_owned())
        .collect();

    if let Some(parent) = screenshot.parent() {
        fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    // Chromium writes the screenshot relative to its working directory unless given a full path.
    let target = std::env::current_dir()
        .map_err(io("reading the working directory"))?
        .join(screenshot);
    let _ = fs::remove_file(&target);
    let screenshot_flag = format!("--screenshot={}", target.display());
    run(
        "screenshot",
        &[
            screenshot_flag.as_str(),
            "--window-size=1280,2400",
            "--hide-scrollbars",
        ],
        &url,
    )?;
    if !target.is_file() {
        return Err(BrowserError::NoScreenshot { path: target });
    }
    Ok(PageCheck {
        dom,
        console_errors,
    })
}

/// One Chromium run with a fresh profile: its stdout and stderr.
fn run(name: &'static str, flags: &[&str], url: &str) -> Result<(String, String), BrowserError> {
    let scratch = tempfile::tempdir().map_err(io("creating a temporary directory"))?;
    let profile = scratch.path().join("profile");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    // Output goes to files, not pipes: a large DOM would fill a pipe nobody reads while we wait.
    let stdout = File::create(&stdout_path).map_err(io("creating chromium's stdout file"))?;
    let stderr = File::create(&stderr_path).map_err(io("creating chromium's stderr file"))?;
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(flags)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(io("starting chromium"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io("waiting for chromium"))? {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BrowserError::Timeout { run: name });
        }
        sleep(Duration::from_millis(50));
    };
    let out = fs::read_to_string(&stdout_path).map_err(io("reading chromium's stdout"))?;
    let err = fs::read_to_string(&stderr_path).map_err(io("reading chromium's stderr"))?;
    if !status.success() {
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(BrowserError::Failed {
            run: name,
            status,
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok((out, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check must be able to fail: a page with a console.error and an uncaught exception.
    #[test]
    fn catches_console_errors_and_exceptions() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let page = dir.path().join("broken.html");
        fs::write(
            &page,
            "<!DOCTYPE html><html><body><p id=\"x\">hello</p><script>\
             document.getElementById('x').textContent = 'changed by script';\
             console.error('deliberate console error');\
             notAFunction();</script></body></html>",
        )
        .expect("the page is written");
        let shot = dir.path().join("shots/broken.png");
        let check = check_page(&page, &shot).expect("chromium opens the page");
        assert!(check.dom.contains("changed by script"), "{}", check.dom);
        assert!(
            check
                .console_errors
                .iter()
                .any(|e| e.contains("deliberate console error")),
            "{:?}",
            check.console_errors
        );
        assert!(
            check
                .console_errors
                .iter()
                .any(|e| e.contains("Uncaught ReferenceError: notAFunction is not defined")),
            "{:?}",
            check.console_errors
        );
        assert!(fs::metadata(&shot).expect("the screenshot").len() > 0);
    }

    #[test]
    fn a_quiet_page_has_no_console_errors() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let page = dir.path().join("quiet.html");
        fs::write(
            &page,
            "<!DOCTYPE html><html><body><h1>quiet</h1></body></html>",
        )
        .expect("the page is written");
        let check =
            check_page(&page, &dir.path().join("quiet.png")).expect("chromium opens the page");
        assert!(check.dom.contains("<h1>quiet</h1>"));
        assert_eq!(check.console_errors, Vec::<String>::new());
    }

    #[test]
    fn a_missing_page_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let error = check_page(&dir.path().join("none.html"), &dir.path().join("x.png"))
            .expect_err("a missing page is refused");
        assert!(error.to_string().contains("does not exist"), "{error}");
    }
}
