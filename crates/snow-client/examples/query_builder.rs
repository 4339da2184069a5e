//! The encoded-query builder: conditions combined with `&` and `|`, orders, dates, values that
//! would change a query's meaning refused — and the queries run against a local instance.
//!
//! ```text
//! cargo run -p snow-client --example query_builder
//! ```

use snow_client::query::{DatePreset, Query, field};
use snow_client::{Client, Record};
use snow_devinstance::{DevConfig, DevInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // (active AND (priority <= 2 OR urgency = 1)), newest first.
    let urgent = (field("active").eq(true) & (field("priority").le(2) | field("urgency").eq(1)))
        .order_by_desc("sys_created_on");
    println!("{}", urgent.clone().build()?);

    // a & b | c is ServiceNow's "(a AND b) OR c" (^NQ).
    let either =
        field("state").eq(1) & field("priority").eq(1) | field("opened_at").on(DatePreset::Today);
    println!("{}", either.build()?);

    // Text operators, lists, emptiness, ranges.
    let q = (field("number").starts_with("INC")
        & field("short_description").contains("printer")
        & field("category").is_in(["network", "hardware"])
        & field("assigned_to").is_empty()
        & field("opened_at").between("2024-01-01 00:00:00", "2024-12-31 23:59:59"))
    .build()?;
    println!("{q}");

    // A caret in a value is escaped; a value that cannot be written safely is refused by name.
    println!("{}", field("short_description").eq("Cost^Center").build()?);
    match field("number").is_in(["INC1,INC2"]).build() {
        Ok(q) => println!("unexpected: {q}"),
        Err(e) => println!("refused: {e}"),
    }

    // Any built query reads back into the same structure.
    let parsed = Query::parse(&q.to_string())?;
    assert_eq!(parsed.to_string(), q.to_string());

    // Run them.
    let dev = DevInstance::start(DevConfig {
        records: 500,
        ..DevConfig::default()
    })
    .await?;
    let incidents = Client::basic(dev.base_url(), "admin", "admin")?.table("incident");
    let rows: Vec<Record> = incidents
        .query(urgent)
        .fields(["number", "priority", "urgency", "short_description"])
        .limit(5)
        .all()
        .await?;
    println!("\n5 urgent active incidents:");
    for r in &rows {
        println!(
            "  {}  P{} U{}  {}",
            r.str("number").unwrap_or("?"),
            r.str("priority").unwrap_or("?"),
            r.str("urgency").unwrap_or("?"),
            r.str("short_description").unwrap_or("")
        );
    }
    let page = incidents
        .query(field("active").eq(true) & field("priority").eq(1))
        .limit(1)
        .page::<Record>()
        .await?;
    println!("active priority-1 incidents: {:?}", page.total_count());
    Ok(())
}
