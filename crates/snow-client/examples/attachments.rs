//! Attachments: upload bytes and a file (streamed), list a record's attachments, download one
//! to a file, delete — against a local ServiceNow-compatible instance.
//!
//! ```text
//! cargo run -p snow-client --example attachments
//! ```

use snow_client::{Attachment, Client, Record};
use snow_devinstance::{DevConfig, DevInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = DevInstance::start(DevConfig {
        records: 10,
        ..DevConfig::default()
    })
    .await?;
    let client = Client::basic(dev.base_url(), "admin", "admin")?;
    let incident: Record = client.table("incident").list().first().await?;
    let id = incident.sys_id().unwrap_or_default();
    let attachments = client.attachments();

    // Bytes in memory; the content type is guessed from the name (text/plain).
    let note = attachments
        .upload(
            "incident",
            id,
            "note.txt",
            b"The printer is on fire.".to_vec(),
        )
        .await?;
    println!("uploaded {} ({})", note.file_name, note.content_type);

    // A file from disk, streamed rather than read into memory.
    let dir = std::env::temp_dir().join(format!("snow-attachments-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("readings.csv");
    std::fs::write(&csv, "time,temp\n09:00,21\n09:05,480\n")?;
    let readings = attachments.upload_file("incident", id, &csv).await?;
    println!(
        "uploaded {} ({} bytes)",
        readings.file_name,
        readings.size().unwrap_or(0)
    );

    // The record's attachments.
    let all: Vec<Attachment> = attachments.for_record("incident", id).all().await?;
    for a in &all {
        println!("  {} {} {}", a.sys_id, a.file_name, a.content_type);
    }

    // Download to a file, chunk by chunk.
    let out = dir.join("downloaded.csv");
    let mut file = tokio::fs::File::create(&out).await?;
    let n = attachments
        .download(&readings.sys_id)
        .await?
        .write_to(&mut file)
        .await?;
    println!("downloaded {n} bytes to {}", out.display());

    // Or into memory.
    let bytes = attachments.download(&note.sys_id).await?.bytes().await?;
    println!("note says: {}", String::from_utf8_lossy(&bytes));

    for a in all {
        attachments.delete(&a.sys_id).await?;
    }
    println!(
        "{} attachments left",
        attachments
            .for_record("incident", id)
            .all::<Attachment>()
            .await?
            .len()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
