//! Attachment benchmark: upload and download a large file through a dev instance and report
//! each transfer's wall time and the peak memory of the process that made it.
//!
//! ```text
//! cargo run --release -p snow-client --example bench_attachments -- [--mb 200]   # MiB
//! ```
//!
//! The program writes an `--mb` MiB file of pseudo-random bytes to a temporary directory, starts
//! a dev instance in a child process (attachments kept on disk there), and runs every transfer
//! in a child process of its own, so that each peak RSS (`VmHWM` of `/proc/self/status`, read
//! at the end; Linux only) belongs to that transfer alone:
//!
//! - `upload-file`: `attachments().upload_file(..)` (raw body, length announced);
//! - `upload-reader-multipart`: `upload_reader(.., None).multipart()` from an open file
//!   (multipart, chunked, length unknown);
//! - `download-to`: `attachments().download_to(..)` (streamed to a temporary file, SHA-256
//!   checked, renamed).
//!
//! Output: a markdown table on standard output; progress on standard error.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use snow_client::{Client, Record};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == name {
            return it.next();
        }
    }
    None
}

/// The child that serves: a dev instance keeping attachments in `dir`, until stdin closes.
async fn serve(dir: PathBuf) -> Result<(), BoxError> {
    let instance = snow_devinstance::DevInstance::start(snow_devinstance::DevConfig {
        records: 10,
        data_dir: Some(dir),
        max_attachment_bytes: 1024 * 1024 * 1024,
        max_attachment_total_bytes: 4 * 1024 * 1024 * 1024,
        ..snow_devinstance::DevConfig::default()
    })
    .await?;
    println!("{}", instance.base_url());
    std::io::stdout().flush()?;
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    instance.shutdown().await?;
    Ok(())
}

/// The child that measures one transfer; prints `sys_id bytes wall_ms peak_rss_kib`.
async fn measure(
    case: &str,
    url: &str,
    file: &Path,
    sys_id: Option<String>,
) -> Result<(), BoxError> {
    let client = Client::basic(url, "admin", "admin")?;
    let att = client.attachments();
    let incident: Record = client.table("incident").list().first().await?;
    let record = incident.sys_id().unwrap_or_default().to_owned();
    let started = Instant::now();
    let (id, bytes) = match case {
        "upload-file" => {
            let meta = att.upload_file("incident", &record, file).await?;
            (meta.sys_id.clone(), meta.size().unwrap_or(0))
        }
        "upload-reader-multipart" => {
            let reader = tokio::fs::File::open(file).await?;
            let meta = att
                .upload_reader("incident", &record, "big file.bin", reader, None)
                .multipart()
                .await?;
            (meta.sys_id.clone(), meta.size().unwrap_or(0))
        }
        "download-to" => {
            let id = sys_id.ok_or("download-to needs --sys-id")?;
            let target = file.with_extension("downloaded");
            let saved = att.download_to(&id, &target).await?;
            if !saved.verified {
                return Err("the download was not checked against a hash".into());
            }
            std::fs::remove_file(&target)?;
            (id, saved.bytes)
        }
        other => return Err(format!("unknown case {other}").into()),
    };
    let wall = started.elapsed().as_millis();
    let rss = peak_rss_kib().map_or_else(|| "null".to_owned(), |k| k.to_string());
    println!("{id} {bytes} {wall} {rss}");
    Ok(())
}

/// Writes `mb` MiB of pseudo-random bytes, 1 MiB at a time.
fn write_source(path: &Path, mb: u64) -> Result<(), BoxError> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x5eed_u64;
    let mut block = vec![0u8; 1024 * 1024];
    for _ in 0..mb {
        for b in block.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (state >> 33) as u8;
        }
        f.write_all(&block)?;
    }
    f.flush()?;
    Ok(())
}

fn run_case(
    case: &str,
    url: &str,
    file: &Path,
    sys_id: Option<&str>,
) -> Result<Vec<String>, BoxError> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["--case", case, "--url", url, "--file"]).arg(file);
    if let Some(id) = sys_id {
        cmd.args(["--sys-id", id]);
    }
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("{case} failed").into());
    }
    let line = String::from_utf8(out.stdout)?;
    Ok(line.split_whitespace().map(str::to_owned).collect())
}

fn parent(mb: u64) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("snow-bench-att-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data"))?;
    let source = dir.join("source.bin");
    eprintln!("writing {mb} MiB to {}", source.display());
    write_source(&source, mb)?;
    let mut server = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .arg(dir.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut url = String::new();
    BufReader::new(server.stdout.take().ok_or("no stdout")?).read_line(&mut url)?;
    let url = url.trim().to_owned();
    eprintln!("dev instance at {url}");
    let mut rows = Vec::new();
    let mut uploaded = None;
    for case in ["upload-file", "upload-reader-multipart", "download-to"] {
        eprintln!("{case}...");
        let r = run_case(case, &url, &source, uploaded.as_deref())?;
        if uploaded.is_none() {
            uploaded = r.first().cloned();
        }
        rows.push((case, r));
    }
    drop(server.stdin.take());
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("| transfer ({mb} MiB) | bytes | wall ms | MB/s | client peak RSS |");
    println!("|---|---|---|---|---|");
    for (case, r) in rows {
        let (bytes, wall, rss) = (&r[1], &r[2], &r[3]);
        let rate = match (bytes.parse::<f64>(), wall.parse::<f64>()) {
            (Ok(b), Ok(w)) if w > 0.0 => format!("{:.0}", b / 1e6 / (w / 1e3)),
            _ => "?".to_owned(),
        };
        let rss = rss
            .parse::<f64>()
            .map_or_else(|_| "n/a".to_owned(), |k| format!("{:.1} MiB", k / 1024.0));
        println!("| `{case}` | {bytes} | {wall} | {rate} | {rss} |");
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(dir) = arg("--serve") {
        return rt.block_on(serve(PathBuf::from(dir)));
    }
    if let Some(case) = arg("--case") {
        let url = arg("--url").ok_or("--url is needed")?;
        let file = PathBuf::from(arg("--file").ok_or("--file is needed")?);
        return rt.block_on(measure(&case, &url, &file, arg("--sys-id")));
    }
    drop(rt);
    let mb = arg("--mb")
        .map_or(Ok(200), |v| v.parse())
        .map_err(|e| format!("--mb: {e}"))?;
    parent(mb)
}
